#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/protocol.h"
#include "base/status.h"

// Typed access to members of RapidJSON objects. Every decoder goes through these so that each
// rejection names the offending field the same way ("spec.ports[1].port: ..."), and so that the
// API's convention "absent and null both mean unset" is applied in one place.
namespace kpx::json {

// The member `key` of `object`, or nullptr when it is absent or JSON null. `object` must be an
// object (callers check with ReadObject first).
const rapidjson::Value* Member(const rapidjson::Value& object, const char* key);

// Field paths: Child("spec", "ports") is "spec.ports", Child("", "spec") is "spec",
// Index("spec.ports", 1) is "spec.ports[1]".
std::string Child(std::string_view path, std::string_view key);
std::string Index(std::string_view path, size_t index);

// "path: what".
Status FieldError(std::string_view path, std::string_view what);

// A quoted, escaped and length-capped rendering of untrusted text for messages: API values may
// hold newlines, quotes or megabytes, and must not be able to forge or flood log lines.
std::string Quote(std::string_view text);

// "string", "number", "object", ... for messages.
const char* TypeName(const rapidjson::Value& value);

// Readers. An absent or null member leaves *out untouched and returns Ok; a member of the wrong
// JSON type is an error naming Child(path, key).
Status ReadString(const rapidjson::Value& object, const char* key, std::string_view path,
                  std::string* out);
Status ReadBool(const rapidjson::Value& object, const char* key, std::string_view path,
                std::optional<bool>* out);
// Accepts only JSON integers: the API never serves ports or timeouts as strings or fractions.
Status ReadInt(const rapidjson::Value& object, const char* key, std::string_view path,
               std::optional<int64_t>* out);
// *out is the member when it is an object, nullptr when it is absent or null.
Status ReadObject(const rapidjson::Value& object, const char* key, std::string_view path,
                  const rapidjson::Value** out);
// *out is the member when it is an array, nullptr when it is absent or null.
Status ReadArray(const rapidjson::Value& object, const char* key, std::string_view path,
                 const rapidjson::Value** out);
// A map of strings to strings (labels, annotations). Replaces *out when present.
Status ReadStringMap(const rapidjson::Value& object, const char* key, std::string_view path,
                     std::map<std::string, std::string>* out);

// The "name" (a DNS-1123 label or empty) and "protocol" (TCP when absent) of a port entry, as
// Service ports and EndpointSlice ports both carry them.
Status ReadPortNameAndProtocol(const rapidjson::Value& port, std::string_view path,
                               std::string* name, Protocol* protocol);

}  // namespace kpx::json
