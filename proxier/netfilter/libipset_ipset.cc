#include "proxier/netfilter/libipset_ipset.h"

#include <glog/logging.h>
#include <libipset/ipset.h>
#include <libipset/parse.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "proxier/netfilter/protocol_table.h"

namespace kpx {
namespace {

// libipset's type registry and its set-name -> type cache are process globals without locks.
std::mutex& LibipsetMutex() {
  static std::mutex mutex;
  return mutex;
}

// Registering the set types twice would put each type twice on libipset's list.
void LoadTypesOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ipset_load_types(); });
}

// What one call collects through libipset's callbacks (their `p`).
struct CallState {
  std::string output;  // Save's text
  std::vector<std::string> errors;
  // Restore only: the input, to name failing lines, and the stream libipset reads it from.
  std::string_view text;
  FILE* stream = nullptr;
};

__attribute__((format(printf, 1, 0))) std::string VFormat(const char* fmt, va_list args) {
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  std::string s(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(s.data(), s.size() + 1, fmt, again);
  va_end(again);
  return s;
}

std::string TrimTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Line `n` (1-based) of `text`, without its newline.
std::string_view LineAt(std::string_view text, size_t n) {
  size_t start = 0;
  for (size_t i = 1; i < n; ++i) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
  const size_t end = text.find('\n', start);
  return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// The line libipset's parser is on: the last one fgets() returned, which ends just before the
// stream's position.
size_t CurrentLine(const CallState& st) {
  const long pos = std::ftell(st.stream);
  if (pos <= 0) return 0;
  const std::string_view read = st.text.substr(0, static_cast<size_t>(pos) - 1);
  size_t lines = 1;
  for (char c : read) lines += c == '\n';
  return lines;
}

// Records one failure of a restore line. Messages from the session layer carry the line the
// kernel (or the parser) named, "Error in line N: reason"; the parser's own messages carry none,
// and belong to the line it is on. Winding the stream to its end makes this line the last one
// libipset reads: what it batched before is still sent by the implicit commit at the end.
void RecordRestoreError(CallState* st, std::string message) {
  message = TrimTrailingNewlines(std::move(message));
  size_t line = 0;
  static constexpr std::string_view kPrefix = "Error in line ";
  if (message.rfind(kPrefix, 0) == 0) {
    char* end = nullptr;
    line = std::strtoul(message.c_str() + kPrefix.size(), &end, 10);
    if (end != nullptr && end[0] == ':' && end[1] == ' ') message.assign(end + 2);
  } else {
    line = CurrentLine(*st);
  }
  if (line > 0) {
    message = "line " + std::to_string(line) + " (`" + std::string(LineAt(st->text, line)) +
              "`): " + message;
  }
  st->errors.push_back(std::move(message));
  std::fseek(st->stream, 0, SEEK_END);
}

__attribute__((format(printf, 3, 4))) int OnOutput(struct ipset_session*, void* p, const char* fmt,
                                                   ...) {
  auto* st = static_cast<CallState*>(p);
  va_list args;
  va_start(args, fmt);
  const size_t before = st->output.size();
  st->output += VFormat(fmt, args);
  va_end(args);
  return static_cast<int>(st->output.size() - before);
}

// libipset's default error handlers print to stderr and exit(): these record instead.
__attribute__((format(printf, 4, 5))) int OnParserError(struct ipset*, void* p, int status,
                                                        const char* fmt, ...) {
  if (status == IPSET_NO_PROBLEM || fmt == nullptr) return 0;  // "quit" and the like
  auto* st = static_cast<CallState*>(p);
  va_list args;
  va_start(args, fmt);
  std::string message = VFormat(fmt, args);
  va_end(args);
  if (st->stream != nullptr) {
    RecordRestoreError(st, std::move(message));
  } else {
    st->errors.push_back(TrimTrailingNewlines(std::move(message)));
  }
  return -1;
}

int OnSessionReport(struct ipset* ipset, void* p) {
  auto* st = static_cast<CallState*>(p);
  struct ipset_session* session = ipset_session(ipset);
  const enum ipset_err_type type = ipset_session_report_type(session);
  // ipset_parse_stream() calls this again for a line ipset_parse_argv() already reported (and this
  // reset): the failure is recorded once.
  if (type == IPSET_NO_ERROR) return -1;
  std::string message = ipset_session_report_msg(session);
  ipset_session_report_reset(session);
  if (type == IPSET_WARNING) {
    LOG(WARNING) << "ipset: " << TrimTrailingNewlines(std::move(message));
    return 0;
  }
  // IPSET_NOTICE ends `ipset restore` with a failure too.
  if (st->stream != nullptr) {
    RecordRestoreError(st, std::move(message));
  } else {
    st->errors.push_back(TrimTrailingNewlines(std::move(message)));
  }
  return -1;
}

// One libipset handle with its session, freed on scope exit. Callers hold LibipsetMutex().
class Handle {
 public:
  explicit Handle(CallState* st) : ipset_(ipset_init()) {
    if (ipset_ != nullptr)
      ipset_custom_printf(ipset_, OnParserError, OnSessionReport, OnOutput, st);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (ipset_ != nullptr) ipset_fini(ipset_);
  }
  struct ipset* get() const {
    return ipset_;
  }
  struct ipset_session* session() const {
    return ipset_session(ipset_);
  }

 private:
  struct ipset* ipset_;
};

std::string Joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const std::string& e : errors) out += (out.empty() ? "" : "; ") + e;
  return out;
}

// The session layer's own report after a failed ipset_cmd(), which calls no handler.
std::string SessionError(const Handle& h) {
  std::string message = TrimTrailingNewlines(ipset_session_report_msg(h.session()));
  ipset_session_report_reset(h.session());
  return message.empty() ? "unknown libipset error" : message;
}

}  // namespace

Result<std::unique_ptr<LibipsetIpset>> LibipsetIpset::Open() {
  std::lock_guard<std::mutex> lock(LibipsetMutex());
  LoadTypesOnce();
  LoadProtocolTable();
  CallState st;
  Handle h(&st);
  if (h.get() == nullptr) return Status::Error("ipset: cannot allocate a libipset session");
  // IPSET_CMD_NONE only exchanges the protocol version: it proves the kernel answers.
  if (ipset_cmd(h.session(), IPSET_CMD_NONE, 0) < 0) {
    return Status::Error(
        "ipset: the kernel's ip_set does not answer (module not available, or no "
        "CAP_NET_ADMIN?): " +
        SessionError(h));
  }
  return std::unique_ptr<LibipsetIpset>(new LibipsetIpset());
}

Status LibipsetIpset::Restore(std::string_view text) {
  if (text.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(LibipsetMutex());
  LoadTypesOnce();
  CallState st;
  st.text = text;
  Handle h(&st);
  if (h.get() == nullptr) return Status::Error("ipset restore: cannot allocate a libipset session");
  ipset_envopt_set(h.session(), IPSET_ENV_EXIST);
  // Read-only mode: libipset never writes through the pointer.
  st.stream = fmemopen(const_cast<char*>(text.data()), text.size(), "r");
  if (st.stream == nullptr) return Status::Error("ipset restore: fmemopen failed");
  // Restore mode, unlike one line at a time, batches consecutive adds (dels) to one set into one
  // netlink message, and numbers lines so that kernel errors name theirs.
  const int ret = ipset_parse_stream(h.get(), st.stream);
  std::fclose(st.stream);
  st.stream = nullptr;
  if (!st.errors.empty()) return Status::Error("ipset restore: " + Joined(st.errors));
  if (ret < 0) return Status::Error("ipset restore: " + SessionError(h));
  return Status::Ok();
}

Result<std::string> LibipsetIpset::Save() {
  std::lock_guard<std::mutex> lock(LibipsetMutex());
  LoadTypesOnce();
  CallState st;
  Handle h(&st);
  if (h.get() == nullptr) return Status::Error("ipset save: cannot allocate a libipset session");
  // No set name: every set. The output mode defaults to save's for IPSET_CMD_SAVE.
  if (ipset_cmd(h.session(), IPSET_CMD_SAVE, 0) < 0) {
    return Status::Error("ipset save: " + SessionError(h));
  }
  return std::move(st.output);
}

Status LibipsetIpset::Destroy(const std::string& name) {
  std::lock_guard<std::mutex> lock(LibipsetMutex());
  LoadTypesOnce();
  CallState st;
  Handle h(&st);
  if (h.get() == nullptr) return Status::Error("ipset destroy: cannot allocate a libipset session");
  if (ipset_parse_setname(h.session(), IPSET_SETNAME, name.c_str()) < 0) {
    return Status::Error("ipset destroy " + name + ": " + SessionError(h));
  }
  if (ipset_cmd(h.session(), IPSET_CMD_DESTROY, 0) < 0) {
    const std::string message = SessionError(h);
    // ENOENT has no code of its own past libipset, only this text (the one ipset(8) prints): a set
    // that does not exist is already where we want it.
    if (message.find("does not exist") != std::string::npos) return Status::Ok();
    return Status::Error("ipset destroy " + name + ": " + message);
  }
  return Status::Ok();
}

}  // namespace kpx
