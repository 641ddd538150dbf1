#include "k8s-watch/decode/list_decoder.h"

#include <string>
#include <string_view>

#include "k8s-watch/decode/dns_names.h"
#include "k8s-watch/decode/endpoint_slice_decoder.h"
#include "k8s-watch/decode/json_fields.h"
#include "k8s-watch/decode/node_decoder.h"
#include "k8s-watch/decode/service_decoder.h"

namespace kpx {

namespace {

enum class ItemKind { kService, kEndpointSlice, kNode };

struct ListKind {
  const char* kind;
  const char* api_version;
  ItemKind item;
};

constexpr ListKind kTypedLists[] = {
    {"ServiceList", "v1", ItemKind::kService},
    {"EndpointSliceList", "discovery.k8s.io/v1", ItemKind::kEndpointSlice},
    {"NodeList", "v1", ItemKind::kNode},
};

std::string StringMember(const rapidjson::Value& object, const char* key) {
  const rapidjson::Value* v = json::Member(object, key);
  if (v == nullptr || !v->IsString()) return std::string();
  return std::string(v->GetString(), v->GetStringLength());
}

const char* KindName(ItemKind kind) {
  switch (kind) {
    case ItemKind::kService:
      return "Service";
    case ItemKind::kEndpointSlice:
      return "EndpointSlice";
    case ItemKind::kNode:
      return "Node";
  }
  return "";
}

// The cache key of an object that failed to decode, if its metadata is sound enough to trust.
std::string KeyOf(const rapidjson::Value& object, ItemKind kind) {
  if (!object.IsObject()) return std::string();
  const rapidjson::Value* meta = json::Member(object, "metadata");
  if (meta == nullptr || !meta->IsObject()) return std::string();
  const std::string name = StringMember(*meta, "name");
  if (!dns::IsDns1123Subdomain(name)) return std::string();
  if (kind == ItemKind::kNode) return name;
  const std::string ns = StringMember(*meta, "namespace");
  if (!dns::IsDns1123Label(ns)) return std::string();
  return ns + "/" + name;
}

std::string WithPrefix(std::string_view prefix, const std::string& message) {
  return prefix.empty() ? message : std::string(prefix) + ": " + message;
}

void DecodeItem(const rapidjson::Value& object, ItemKind kind, std::string_view prefix,
                DecodedObjects* out) {
  auto fail = [&](const Status& s, bool unsupported) {
    out->failures.push_back(
        {KindName(kind), KeyOf(object, kind), WithPrefix(prefix, s.message()), unsupported});
  };
  switch (kind) {
    case ItemKind::kService: {
      auto r = ServiceDecoder::Decode(object);
      if (r.ok()) {
        out->services.push_back(std::move(r).value());
      } else {
        fail(r.status(), false);
      }
      return;
    }
    case ItemKind::kEndpointSlice: {
      auto r = EndpointSliceDecoder::Decode(object);
      if (r.ok()) {
        out->endpoint_slices.push_back(std::move(r).value());
      } else {
        fail(r.status(), EndpointSliceDecoder::IsUnsupported(object));
      }
      return;
    }
    case ItemKind::kNode: {
      auto r = NodeDecoder::Decode(object);
      if (r.ok()) {
        out->nodes.push_back(std::move(r).value());
      } else {
        fail(r.status(), false);
      }
      return;
    }
  }
}

void Fail(std::string_view prefix, std::string message, DecodedObjects* out) {
  out->failures.push_back({"", "", WithPrefix(prefix, message), false});
}

// Dispatches one object by its own kind. Lists are accepted only at the top level (`allow_list`):
// nothing produces nested lists, and refusing them bounds the recursion.
void DecodeObject(const rapidjson::Value& object, std::string_view prefix, bool allow_list,
                  DecodedObjects* out);

void DecodeItems(const rapidjson::Value& list, const ItemKind* typed_kind, DecodedObjects* out) {
  const rapidjson::Value* items = nullptr;
  if (Status s = json::ReadArray(list, "items", "", &items); !s.ok()) {
    Fail("", s.message(), out);
    return;
  }
  if (items == nullptr) return;
  for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
    const std::string prefix = json::Index("items", i);
    if (typed_kind != nullptr) {
      DecodeItem((*items)[i], *typed_kind, prefix, out);
    } else {
      DecodeObject((*items)[i], prefix, /*allow_list=*/false, out);
    }
  }
}

void DecodeObject(const rapidjson::Value& object, std::string_view prefix, bool allow_list,
                  DecodedObjects* out) {
  if (!object.IsObject()) {
    Fail(prefix, std::string("must be a JSON object, got ") + json::TypeName(object), out);
    return;
  }
  const std::string kind = StringMember(object, "kind");
  const std::string api_version = StringMember(object, "apiVersion");
  if (kind == "Service") return DecodeItem(object, ItemKind::kService, prefix, out);
  if (kind == "EndpointSlice") return DecodeItem(object, ItemKind::kEndpointSlice, prefix, out);
  if (kind == "Node") return DecodeItem(object, ItemKind::kNode, prefix, out);
  if (kind.empty()) return Fail(prefix, "kind: required", out);

  const bool is_list = kind == "List" || kind.ends_with("List");
  if (is_list && !allow_list) return Fail(prefix, "kind: nested " + json::Quote(kind), out);
  if (kind == "List") {
    if (!api_version.empty() && api_version != "v1") {
      return Fail(prefix, "apiVersion: " + json::Quote(api_version) + " not supported for List",
                  out);
    }
    return DecodeItems(object, nullptr, out);
  }
  for (const ListKind& list : kTypedLists) {
    if (kind != list.kind) continue;
    if (!api_version.empty() && api_version != list.api_version) {
      return Fail(prefix,
                  "apiVersion: " + json::Quote(api_version) + " not supported for " + kind +
                      " (want " + list.api_version + ")",
                  out);
    }
    return DecodeItems(object, &list.item, out);
  }
  out->failures.push_back(
      {"", "", WithPrefix(prefix, "kind: " + json::Quote(kind) + " not used by kpx"), false, true});
}

}  // namespace

DecodedObjects ListDecoder::Decode(const rapidjson::Value& document) {
  DecodedObjects out;
  DecodeInto(document, &out);
  return out;
}

void ListDecoder::DecodeInto(const rapidjson::Value& document, DecodedObjects* out) {
  DecodeObject(document, "", /*allow_list=*/true, out);
}

void ListDecoder::DecodeListItem(std::string_view list_kind, std::string_view api_version,
                                 const rapidjson::Value& item, size_t index, DecodedObjects* out) {
  const std::string prefix = json::Index("items", index);
  if (list_kind == "List") {
    if (!api_version.empty() && api_version != "v1") {
      return Fail(
          prefix,
          "apiVersion: " + json::Quote(std::string(api_version)) + " not supported for List", out);
    }
    return DecodeObject(item, prefix, /*allow_list=*/false, out);
  }
  for (const ListKind& list : kTypedLists) {
    if (list_kind != list.kind) continue;
    if (!api_version.empty() && api_version != list.api_version) {
      return Fail(prefix,
                  "apiVersion: " + json::Quote(std::string(api_version)) + " not supported for " +
                      list.kind + " (want " + list.api_version + ")",
                  out);
    }
    return DecodeItem(item, list.item, prefix, out);
  }
  out->failures.push_back(
      {"", "",
       WithPrefix(prefix, "list kind: " + json::Quote(std::string(list_kind)) + " not used by kpx"),
       false, true});
}

}  // namespace kpx
