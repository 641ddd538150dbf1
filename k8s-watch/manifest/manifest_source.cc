#include "k8s-watch/manifest/manifest_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "k8s-watch/decode/label_filter.h"
#include "k8s-watch/manifest/manifest_parser.h"
#include "k8s-watch/objects/content_digest.h"
#include "k8s-watch/objects/kept_service.h"
#include "k8s-watch/objects/kept_slice.h"

namespace kpx {

namespace {

enum class ReadResult { kOk, kUnchanged, kMissing, kError };

// Out of descriptors or memory: the failure passes by itself, so the scan must be retried.
bool Transient(int err) {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}

// Reads a regular file. O_NONBLOCK keeps a FIFO that happens to be named *.yaml from blocking the
// watcher forever; it is then refused as not a regular file.
// `unchanged` is asked after fstat, before anything is read: true skips the read (kUnchanged).
ReadResult ReadFile(const std::string& path,
                    const std::function<bool(const struct stat&)>& unchanged, std::string* content,
                    std::string* error, bool* transient) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return ReadResult::kMissing;  // removed since the directory listing
    *transient = Transient(errno);
    *error = std::string("cannot open: ") + std::strerror(errno);
    return ReadResult::kError;
  }
  struct stat st;
  ReadResult result = ReadResult::kOk;
  if (fstat(fd, &st) != 0) {
    *error = std::string("cannot stat: ") + std::strerror(errno);
    result = ReadResult::kError;
  } else if (!S_ISREG(st.st_mode)) {
    result = ReadResult::kMissing;
  } else if (unchanged(st)) {
    result = ReadResult::kUnchanged;
  } else if (static_cast<size_t>(st.st_size) > ManifestSource::kMaxFileBytes) {
    *error = "file too large (" + std::to_string(st.st_size) + " bytes)";
    result = ReadResult::kError;
  } else {
    content->clear();
    // Sized up front: appending doubles the capacity, and a 20 MiB file would briefly take 32.
    content->reserve(static_cast<size_t>(st.st_size));
    char buf[64 * 1024];
    while (true) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        *error = std::string("cannot read: ") + std::strerror(errno);
        result = ReadResult::kError;
        break;
      }
      content->append(buf, static_cast<size_t>(n));
      if (content->size() > ManifestSource::kMaxFileBytes) {
        *error = "file too large (grew while reading)";
        result = ReadResult::kError;
        break;
      }
    }
  }
  close(fd);
  return result;
}

// Sorted manifest file names, or nullopt if the directory cannot be listed right now (*transient
// when that should pass by itself).
std::optional<std::set<std::string>> ListManifests(const std::string& directory, bool* transient) {
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) {
    *transient = Transient(errno);
    PLOG(WARNING) << "manifest " << directory << ": cannot list directory; keeping current state"
                  << (*transient ? " and retrying" : "");
    return std::nullopt;
  }
  std::set<std::string> names;
  while (const dirent* entry = readdir(dir)) {
    if (ManifestParser::IsManifestName(entry->d_name)) names.insert(entry->d_name);
  }
  closedir(dir);
  return names;
}

std::string KeepNote(size_t kept) {
  if (kept == 0) return "";
  return "; keeping the " + std::to_string(kept) + " object(s) of its last good version";
}

template <typename T>
constexpr bool kKeptWhole = std::is_same_v<T, Node>;

// The handler-facing object of what the source keeps.
const Node& Named(const Node& n) { return n; }
Service Named(const KeptService& k) { return k.identity(); }
EndpointSlice Named(const KeptSlice& k) { return k.identity(); }

template <typename Entry>
bool Defines(const std::vector<Entry>& entries, const std::string& key) {
  for (const Entry& e : entries) {
    if (e.key == key) return true;
  }
  return false;
}

// Keeps the definition `old` (records of `index`) had of the object of `failure` in `into`, if it
// had one; true when it did.
template <typename Index, typename Entry>
bool KeepOld(const DecodeFailure& failure, const Index& index,
             const std::vector<typename Index::Handle>& old, std::vector<Entry>* into) {
  if (failure.key.empty()) return false;
  if (!index.AnyHasKey(old, failure.key) || Defines(*into, failure.key)) return false;
  into->push_back({failure.key, nullptr});
  return true;
}

// Diffs the touched keys of one kind against what was delivered: warns about new duplicate
// definitions, then calls the handler for every difference (deletes first) and records what was
// delivered. Each call is counted in *events before it is made, so a handler (or a test waiting on
// one) never sees a counter that lags behind. A definition known to be the delivered version is
// not compared again. A null handler (`deliver` false) receives nothing. Afterwards no decoded
// object is held beyond what the kind keeps.
template <typename T, typename Index, typename Add, typename Update, typename Delete>
uint64_t DeliverKind(Index* index, const char* kind, const std::string& directory, bool deliver,
                     std::atomic<uint64_t>* events, Add add, Update update, Delete del) {
  using Records = typename Index::Records;
  using Handle = typename Index::Handle;
  Records& records = index->by_key;
  const std::set<std::string> touched = std::move(index->touched);
  index->touched.clear();
  // Each touched key with its record (kNone: forgotten) and winning file (empty: none).
  std::vector<std::tuple<const std::string*, Handle, InternedString>> desired;
  desired.reserve(touched.size());
  for (const std::string& key : touched) {
    std::vector<std::string> duplicates;
    InternedString winner;
    const Handle record = records.Find(key);
    if (record != Records::kNone) {
      const std::string* previous = nullptr;
      for (const InternedString& file : index->Files(record)) {
        if (previous != nullptr) {
          duplicates.push_back(std::string(kind) + " " + key + " is defined in " + *previous +
                               " and " + file.str() + "; using the one in " + file.str());
        }
        previous = &file.str();
        winner = file;
      }
    }
    auto& reported = index->reported_duplicates[key];
    for (const std::string& d : duplicates) {
      if (std::find(reported.begin(), reported.end(), d) == reported.end()) {
        LOG(WARNING) << "manifest " << directory << ": " << d;
      }
    }
    if (duplicates.empty()) {
      index->reported_duplicates.erase(key);
    } else {
      reported = std::move(duplicates);
    }
    desired.emplace_back(&key, record, winner);
  }
  // The handlers get what they need below; after that a slice's endpoints live only in the core.
  auto release = [&] {
    if constexpr (!kKeptWhole<T>) index->pending.clear();
  };
  if (!deliver) {  // nothing is ever delivered, so Replace forgets keys without definitions
    release();
    return 0;
  }
  uint64_t calls = 0;
  for (const auto& [key, record, winner] : desired) {
    if (record == Records::kNone || index->Defined(record)) continue;
    if (records.flag(record, Records::kDelivered)) {
      VLOG(4) << "manifest: " << kind << " delete " << *key;
      ++*events;
      del(Named(records.kept(record)));
      ++calls;
      --index->delivered_count;
    }
    index->Forget(record);
  }
  for (const auto& [key, record, winner] : desired) {
    if (record == Records::kNone || winner.empty()) continue;
    const bool known = records.flag(record, Records::kDelivered);
    const bool kept_from_pending =
        records.flag(record, Records::kKeptFromPending) && records.file(record) == winner;
    records.set_flag(record, Records::kKeptFromPending, false);
    if (!known || !index->KnownDelivered(record, winner)) {
      const T* whole = index->Pending(*key, winner);
      if (whole == nullptr) {
        // FilesToReread found none, or the file no longer decodes: keep what was delivered.
        LOG(WARNING) << "manifest " << directory << ": " << kind << " " << *key
                     << " changed, but its definition could not be read again; keeping the "
                        "delivered version";
        continue;
      }
      // A new record whose kept object was made from `whole` itself needs no second one: a
      // digest less per new object (the SHA-256 over a slice's endpoints was ~3 % of kpx's CPU
      // at 100 000 Services).
      std::optional<typename Index::Kept> kept;
      if (known || !kept_from_pending) kept.emplace(*whole);
      if (!known || !records.Holds(record, *kept)) {
        ++*events;
        ++calls;
        if (!known) {
          VLOG(4) << "manifest: " << kind << " add " << *key;
          add(*whole);
        } else {
          VLOG(4) << "manifest: " << kind << " update " << *key;
          update(Named(records.kept(record)), *whole);
        }
      }
      if (kept) records.SetKept(record, *kept);
    }
    if (!known) ++index->delivered_count;
    records.set_flag(record, Records::kDelivered, true);
    if (!records.flag(record, Records::kMore)) {
      records.set_flag(record, Records::kFileDelivered, true);  // `winner` is its one file
    }
  }
  release();
  return calls;
}

}  // namespace

template <typename T>
std::vector<InternedString> ManifestSource::KindIndex<T>::Files(Handle h) const {
  if (!by_key.flag(h, Records::kMore)) {
    if (by_key.file(h).empty()) return {};
    return {by_key.file(h)};
  }
  const std::vector<Definition>& definitions = more.at(h);
  std::vector<InternedString> files;
  files.reserve(definitions.size());
  for (const Definition& d : definitions) files.push_back(d.file);
  return files;
}

template <typename T>
void ManifestSource::KindIndex<T>::Forget(Handle h) {
  more.erase(h);
  by_key.Erase(h);
}

template <typename T>
bool ManifestSource::KindIndex<T>::AnyHasKey(const std::vector<Handle>& records,
                                             const std::string& key) const {
  for (const Handle h : records) {
    if (by_key.Key(h) == key) return true;
  }
  return false;
}

template <typename T>
const T* ManifestSource::KindIndex<T>::Pending(const std::string& key,
                                               const InternedString& file) const {
  auto it = pending.find(key);
  if (it == pending.end()) return nullptr;
  for (const auto& [f, whole] : it->second) {
    if (f == file) return whole.get();
  }
  return nullptr;
}

// A null `whole` drops what was held.
template <typename T>
void ManifestSource::KindIndex<T>::SetPending(const std::string& key, const InternedString& file,
                                              std::unique_ptr<const T> whole) {
  auto it = pending.find(key);
  if (it == pending.end()) {
    if (whole != nullptr) pending[key].emplace_back(file, std::move(whole));
    return;
  }
  auto& held = it->second;
  std::erase_if(held, [&](const auto& h) { return h.first == file; });
  if (whole != nullptr) held.emplace_back(file, std::move(whole));
  if (held.empty()) pending.erase(it);
}

template <typename T>
bool ManifestSource::KindIndex<T>::KnownDelivered(Handle h, const InternedString& file) const {
  if (!by_key.flag(h, Records::kDelivered)) return false;
  if (!by_key.flag(h, Records::kMore)) {
    return by_key.file(h) == file && by_key.flag(h, Records::kFileDelivered);
  }
  for (const Definition& d : more.at(h)) {
    if (d.file == file) return d.version.has_value() && by_key.Holds(h, *d.version);
  }
  return false;
}

template <typename T>
void ManifestSource::KindIndex<T>::Replace(const std::string& file, std::vector<Entry<T>> after,
                                           std::vector<Handle>* defined) {
  const InternedString name(file);
  std::set<std::string_view> staying;
  for (const Entry<T>& e : after) staying.insert(e.key);
  // Keys first: a record may go while *defined still names it (a file can define a key twice).
  std::vector<std::string> leaving;
  for (const Handle h : *defined) {
    std::string key(by_key.Key(h));
    if (!staying.contains(key)) leaving.push_back(std::move(key));
  }
  for (std::string& key : leaving) {
    SetPending(key, name, nullptr);
    const Handle h = by_key.Find(key);
    if (h != Records::kNone) {
      by_key.set_flag(h, Records::kKeptFromPending, false);
      if (by_key.flag(h, Records::kMore)) {
        std::vector<Definition>& definitions = more.at(h);
        std::erase_if(definitions, [&](const Definition& d) { return d.file == name; });
        if (definitions.size() == 1) {
          // Back to one definition, which is the delivered version if its version says so.
          const Definition& last = definitions.front();
          by_key.set_flag(h, Records::kFileDelivered,
                          by_key.flag(h, Records::kDelivered) && last.version &&
                              by_key.Holds(h, *last.version));
          by_key.set_file(h, last.file);
          by_key.set_flag(h, Records::kMore, false);
          more.erase(h);
        }
      } else if (by_key.file(h) == name) {
        by_key.set_file(h, InternedString());
        by_key.set_flag(h, Records::kFileDelivered, false);
      }
      // Kept while a deletion is still to be delivered.
      if (!Defined(h) && !by_key.flag(h, Records::kDelivered)) Forget(h);
    }
    touched.insert(std::move(key));
  }
  defined->clear();
  defined->reserve(after.size());
  for (Entry<T>& e : after) {
    Handle h = by_key.Find(e.key);
    if (e.whole == nullptr) {
      // The definition the file had stays as it is, with its decoded object if one is still held
      // (KeepOld found the definition, so the record exists).
      if (h == Records::kNone) continue;
    } else {
      // A definition read again (or a second one) makes the record's kept object stale.
      if (h != Records::kNone) by_key.set_flag(h, Records::kKeptFromPending, false);
      if (h == Records::kNone) {
        h = by_key.Insert(e.key, Kept(*e.whole), name);
        by_key.set_flag(h, Records::kKeptFromPending, true);  // e.whole is held just below
      } else if (!by_key.flag(h, Records::kMore) &&
                 (by_key.file(h).empty() || by_key.file(h) == name)) {
        // The definition changes: it is the delivered version only once Deliver says so.
        by_key.set_file(h, name);
        by_key.set_flag(h, Records::kFileDelivered, false);
      } else {
        if (!by_key.flag(h, Records::kMore)) {
          // A second file defines the key: from now on each definition keeps its version.
          const InternedString first_file = by_key.file(h);
          std::optional<Kept> first;
          if (KnownDelivered(h, first_file)) {
            first = by_key.kept(h);
          } else if (const T* whole = Pending(e.key, first_file)) {
            first.emplace(*whole);
          }
          std::vector<Definition>& definitions = more[h];
          definitions.clear();
          definitions.push_back({first_file, std::move(first)});
          by_key.set_file(h, InternedString());
          by_key.set_flag(h, Records::kFileDelivered, false);
          by_key.set_flag(h, Records::kMore, true);
        }
        std::vector<Definition>& definitions = more.at(h);
        auto at = std::lower_bound(
            definitions.begin(), definitions.end(), name,
            [](const Definition& d, const InternedString& n) { return d.file < n; });
        if (at != definitions.end() && at->file == name) {
          at->version.emplace(*e.whole);
        } else {
          definitions.insert(at, {name, Kept(*e.whole)});
        }
      }
      SetPending(e.key, name, std::move(e.whole));
    }
    defined->push_back(h);
    touched.insert(std::move(e.key));
  }
}

template <typename T>
std::set<std::string> ManifestSource::KindIndex<T>::FilesToReread() const {
  std::set<std::string> files;
  if constexpr (!kKeptWhole<T>) {
    for (const std::string& key : touched) {
      const Handle h = by_key.Find(key);
      if (h == Records::kNone || !Defined(h)) continue;
      const InternedString winner = Files(h).back();
      if (Pending(key, winner) != nullptr) continue;
      if (!KnownDelivered(h, winner)) files.insert(winner.str());
    }
  }
  return files;
}

ManifestSource::ManifestSource(std::string directory, std::string node_name,
                               ServiceHandler* services, EndpointSliceHandler* endpoint_slices,
                               NodeHandler* node, SourceStats* stats, size_t initial_batch_objects)
    : directory_(std::move(directory)),
      node_name_(std::move(node_name)),
      service_handler_(services),
      slice_handler_(endpoint_slices),
      node_handler_(node),
      stats_(stats),
      initial_batch_objects_(initial_batch_objects) {}

ManifestSource::~ManifestSource() { Stop(); }

Status ManifestSource::Start() {
  if (started_) return Status::Error("manifest source already started");
  started_ = true;
  // Watch before the first scan, so that a change racing with it triggers a rescan.
  if (Status s = watcher_.Open(directory_); !s.ok()) {
    return Status::Error("manifest source " + directory_ + ": " + s.message());
  }
  Rescan(/*initial=*/true);
  if (service_handler_ != nullptr) service_handler_->OnServiceSynced();
  if (slice_handler_ != nullptr) slice_handler_->OnEndpointSliceSynced();
  if (node_handler_ != nullptr) node_handler_->OnNodeSynced();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ManifestSource::Stop() {
  watcher_.Interrupt();
  if (thread_.joinable()) thread_.join();
}

void ManifestSource::Run() {
  while (true) {
    // A scan that failed for lack of descriptors or memory is retried: the change that triggered
    // it would otherwise wait for the next unrelated edit (issue 17).
    const auto timeout =
        retry_scan_ ? std::optional<std::chrono::milliseconds>(1000) : std::nullopt;
    switch (watcher_.Wait(timeout)) {
      case DirectoryWatcher::Event::kChanged:
      case DirectoryWatcher::Event::kTimeout:
        Rescan(/*initial=*/false);
        break;
      case DirectoryWatcher::Event::kStopped:
        return;
      case DirectoryWatcher::Event::kGone:
        LOG(ERROR) << "manifest " << directory_
                   << ": directory was removed or moved; keeping the current objects and no "
                      "longer watching";
        return;
      case DirectoryWatcher::Event::kError:
        LOG(ERROR) << "manifest " << directory_ << ": watching failed; keeping the current "
                   << "objects and no longer watching";
        return;
    }
  }
}

void ManifestSource::Rescan(bool initial) {
  retry_scan_ = false;
  auto names = ListManifests(directory_, &retry_scan_);
  if (!names) return;
  std::map<std::string, FileState> next;
  for (const std::string& name : *names) {
    auto it = files_.find(name);
    FileState state = it == files_.end() ? FileState() : std::move(it->second);
    if (LoadFile(name, &state)) {
      next.emplace(name, std::move(state));
    } else {
      SetObjects(name, &state, {}, {}, {});
    }
    if (it != files_.end()) files_.erase(it);
    // Bounds what the initial scan holds decoded (see Memory in the class comment); a later scan
    // must hand over only the final result per key, so it delivers after the last file.
    if (initial && services_.pending.size() + slices_.pending.size() >= initial_batch_objects_) {
      Deliver(next.size());
    }
  }
  // What is left was removed from the directory.
  for (auto& [name, state] : files_) SetObjects(name, &state, {}, {}, {});
  files_ = std::move(next);
  Deliver(files_.size());
}

bool ManifestSource::LoadFile(const std::string& name, FileState* state) {
  const std::string path = directory_ + "/" + name;
  std::string content;
  std::string error;
  bool transient = false;
  FileIdentity identity;
  auto unchanged = [&](const struct stat& st) {
    identity.device = st.st_dev;
    identity.inode = st.st_ino;
    identity.size = st.st_size;
    identity.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    identity.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
    return state->identity == identity;
  };
  switch (ReadFile(path, unchanged, &content, &error, &transient)) {
    case ReadResult::kUnchanged:
      return true;
    case ReadResult::kMissing:
      return false;
    case ReadResult::kError:
      if (transient) retry_scan_ = true;
      if (state->read_error != error) {
        LOG(WARNING) << "manifest " << path << ": skipped: " << error
                     << KeepNote(state->services.size() + state->endpoint_slices.size() +
                                 state->nodes.size());
        ++stats_->objects_rejected;
        state->read_error = error;
      }
      // Read and parse again once it can be read.
      state->identity.reset();
      state->digest.reset();
      return true;
    case ReadResult::kOk:
      break;
  }
  ++stats_->files_read;
  state->read_error.clear();
  // File times move in clock ticks, so a write in the same tick as this read could leave the
  // identity as it is now: trust it only once the file is older than any such tick (as git
  // treats "racily clean" files); until then, the digest decides.
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t now_ns = int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
  const bool settled = now_ns - std::max(identity.mtime_ns, identity.ctime_ns) > 2000000000;
  if (settled) {
    state->identity = identity;
  } else {
    state->identity.reset();
  }
  const Digest digest = ContentDigest::Of(content);
  if (state->digest == digest) return true;
  state->digest = digest;

  DecodedObjects decoded;
  if (Status s = ManifestParser::Parse(name, content, &decoded); !s.ok()) {
    LOG(WARNING) << "manifest " << path << ": skipped: " << s.message()
                 << KeepNote(state->services.size() + state->endpoint_slices.size() +
                             state->nodes.size());
    ++stats_->objects_rejected;
    return true;
  }
  Accept(name, std::move(decoded), state);
  return true;
}

void ManifestSource::Accept(const std::string& name, DecodedObjects decoded, FileState* state) {
  const std::string path = directory_ + "/" + name;
  std::vector<Entry<Service>> services;
  std::vector<Entry<EndpointSlice>> slices;
  std::vector<Entry<Node>> nodes;
  for (Service& svc : decoded.services) {
    // In a manifest written for the API server, spec.clusterIP is usually absent: the API server
    // allocates it. kpx has no allocator, so such a Service cannot be programmed; say so instead
    // of dropping it silently (issue: an ingress-nginx manifest lost two Services unnoticed).
    if (svc.type != ServiceType::kExternalName && !svc.headless && svc.cluster_ips.empty()) {
      LOG(WARNING) << "manifest " << path << ": service " << svc.meta.Key()
                   << " skipped: it has no spec.clusterIP (the API server assigns one; a "
                      "manifest read by kpx must give it)";
      ++stats_->objects_skipped;
      continue;
    }
    if (svc.headless || svc.type == ServiceType::kExternalName) {
      LOG(INFO) << "manifest " << path << ": service " << svc.meta.Key() << " is "
                << (svc.headless ? "headless" : "ExternalName")
                << ": no cluster IP, so no rules (as kube-proxy)";
    }
    if (LabelFilter::SkipService(svc)) {
      VLOG(2) << "manifest " << path << ": service " << svc.meta.Key()
              << " is labelled for another proxy; skipped";
      ++stats_->objects_skipped;
      continue;
    }
    std::string key = svc.meta.Key();
    services.push_back({std::move(key), std::make_unique<const Service>(std::move(svc))});
  }
  for (EndpointSlice& slice : decoded.endpoint_slices) {
    if (LabelFilter::SkipEndpointSlice(slice)) {
      VLOG(2) << "manifest " << path << ": endpointslice " << slice.meta.Key()
              << " is labelled headless or for another proxy; skipped";
      ++stats_->objects_skipped;
      continue;
    }
    std::string key = slice.meta.Key();
    slices.push_back({std::move(key), std::make_unique<const EndpointSlice>(std::move(slice))});
  }
  for (Node& node : decoded.nodes) {
    if (node.meta.name != node_name_) {
      VLOG(4) << "manifest " << path << ": node " << node.meta.name << " is not this node";
      continue;
    }
    std::string key = node.meta.Key();
    nodes.push_back({std::move(key), std::make_unique<const Node>(std::move(node))});
  }
  for (const DecodeFailure& f : decoded.failures) {
    if (f.other_kind) {
      VLOG(1) << "manifest " << path << ": skipped: " << f.message;
      continue;
    }
    if (f.unsupported) {
      LOG(INFO) << "manifest " << path << ": skipped: " << f.message;
      ++stats_->objects_skipped;
      continue;
    }
    bool kept = false;
    // A rejected Service is withdrawn rather than kept at its last good version, which may be
    // less restrictive than what the file now asks for (see TypedReflectorStore).
    const bool withdrawn = f.kind == "Service" && services_.AnyHasKey(state->services, f.key);
    if (f.kind == "EndpointSlice") kept = KeepOld(f, slices_, state->endpoint_slices, &slices);
    if (f.kind == "Node") kept = KeepOld(f, nodes_, state->nodes, &nodes);
    LOG(WARNING) << "manifest " << path << ": rejected: " << f.message
                 << (kept ? "; keeping its last good version" : "")
                 << (withdrawn ? "; its last good version is withdrawn (fail closed)" : "");
    ++stats_->objects_rejected;
  }
  SetObjects(name, state, std::move(services), std::move(slices), std::move(nodes));
}

void ManifestSource::SetObjects(const std::string& name, FileState* state,
                                std::vector<Entry<Service>> services,
                                std::vector<Entry<EndpointSlice>> slices,
                                std::vector<Entry<Node>> nodes) {
  services_.Replace(name, std::move(services), &state->services);
  slices_.Replace(name, std::move(slices), &state->endpoint_slices);
  nodes_.Replace(name, std::move(nodes), &state->nodes);
}

void ManifestSource::Deliver(size_t files) {
  // A changed winner whose decoded object is gone (its file was read before and the file that
  // overrode it went away) is read again, so the handlers get the whole object. A file that
  // cannot be read or decoded now keeps what was delivered (DeliverKind warns).
  std::set<std::string> reread = slices_.FilesToReread();
  reread.merge(services_.FilesToReread());
  for (const std::string& name : reread) {
    auto it = files_.find(name);
    if (it == files_.end()) continue;
    it->second.identity.reset();
    it->second.digest.reset();
    LoadFile(name, &it->second);
  }
  uint64_t calls = 0;
  ServiceHandler* sh = service_handler_;
  calls += DeliverKind<Service>(
      &services_, "service", directory_, sh != nullptr, &stats_->events_received,
      [sh](const Service& s) { sh->OnServiceAdd(s); },
      [sh](const Service& o, const Service& s) { sh->OnServiceUpdate(o, s); },
      [sh](const Service& s) { sh->OnServiceDelete(s); });
  EndpointSliceHandler* eh = slice_handler_;
  calls += DeliverKind<EndpointSlice>(
      &slices_, "endpointslice", directory_, eh != nullptr, &stats_->events_received,
      [eh](const EndpointSlice& s) { eh->OnEndpointSliceAdd(s); },
      [eh](const EndpointSlice& o, const EndpointSlice& s) { eh->OnEndpointSliceUpdate(o, s); },
      [eh](const EndpointSlice& s) { eh->OnEndpointSliceDelete(s); });
  NodeHandler* nh = node_handler_;
  calls += DeliverKind<Node>(
      &nodes_, "node", directory_, nh != nullptr, &stats_->events_received,
      [nh](const Node& n) { nh->OnNodeAdd(n); },
      [nh](const Node& o, const Node& n) { nh->OnNodeUpdate(o, n); },
      [nh](const Node& n) { nh->OnNodeDelete(n); });
  VLOG(2) << "manifest " << directory_ << ": " << files << " file(s), " << services_.delivered_count
          << " service(s), " << slices_.delivered_count << " endpointslice(s), "
          << nodes_.delivered_count << " node(s); " << calls << " change(s) delivered";
}

}  // namespace kpx
