#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "base/interned_string.h"
#include "base/status.h"
#include "k8s-watch/decode/decoded_objects.h"
#include "k8s-watch/manifest/directory_watcher.h"
#include "k8s-watch/manifest/kept_record_table.h"
#include "k8s-watch/objects/content_digest.h"
#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/kept_service.h"
#include "k8s-watch/objects/kept_slice.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"
#include "k8s-watch/objects/source_stats.h"

namespace kpx {

// Feeds Services, EndpointSlices and this node's Node from a directory of manifests (*.json,
// *.yaml, *.yml; not recursive; hidden files ignored) to the same handlers the API source uses.
//
// Every change in the directory triggers a rescan. A file whose identity (inode, size, change and
// modification times) is unchanged is not read again, and one whose bytes (SHA-256) are unchanged
// is not parsed again, so a broken file is reported once, not on every rescan. Only the objects
// of files that did change are diffed against what was delivered (keyed by kind and
// namespace/name), and only real changes (operator== on the structs; for EndpointSlices on the
// identity and the content digest) reach the handlers as Add,
// Update(old, new) or Delete: an edit costs what the edited file holds, not the whole directory.
//
// Memory: Services and EndpointSlices are not kept whole: once delivered, only the identity and a
// digest of the content stay here (KeptService, KeptSlice), one per key however many files define
// it, so the old object an Update or Delete hands over carries only its identity (the handler
// contracts allow it); a decoded object is held only from its file's read to the next Deliver. Of
// a file's bytes only a SHA-256 digest is kept to recognise an unchanged file. At 10 000 Services
// x 10 endpoints the bytes and the copies were 70 MiB of kpx's RSS. The initial scan delivers
// whenever a batch of kInitialBatchObjects decoded objects (or one larger file) is held: decoding
// the whole directory first left its freed objects as holes among the long-lived records and the
// handlers' structures allocated meanwhile, heap malloc_trim cannot return (at 100 000 Services
// x 10 endpoints 210 MB free inside the heap after the scan, 2 MB in batches; issue 15). Until
// the synced signals nothing is programmed, so an object a later file overrides may then reach
// the handlers as an Add of the earlier version and an Update; later scans deliver once, after
// the last file, the final result per key.
//
// Bad input never stops the source. A file that cannot be parsed (or read) is skipped with one
// warning and objects_rejected is bumped; the objects it held at its last good version are KEPT,
// because a half-saved or mistyped edit should not tear down working rules: an operator who wants
// them gone deletes the file or the object. For the same reason an object that becomes invalid
// keeps its last good version when its kind and name can still be read (as the API server would
// refuse the invalid update and keep the old object). Objects defined in two files: the file last
// in name order wins, with a warning. Objects for another proxy (LabelFilter) and FQDN slices are
// skipped and counted in objects_skipped; Nodes other than `node_name` are ignored.
//
// Writers should replace files by write-and-rename (as editors and ConfigMap volumes do). A writer
// that truncates and rewrites in place can be read half-way by a rescan that another change
// triggered; the rescan its own close triggers corrects the state, but handlers may see the
// intermediate version (usually a parse error, which keeps the old objects; an empty file, which
// removes them).
//
// Threading: the constructor starts nothing. Start() reads the directory synchronously, delivering
// the initial objects and then OnServiceSynced/OnEndpointSliceSynced/OnNodeSynced on the calling
// thread, and then starts one watcher thread from which all later handler calls come. Stop() (or
// the destructor) ends the watcher promptly. Handlers and stats must outlive the source; a null
// handler means that kind is not delivered.
class ManifestSource {
 public:
  // Files larger than this are refused: manifests are small, and anything bigger is likely not one.
  static constexpr size_t kMaxFileBytes = 64 << 20;

  // The initial scan hands over what it decoded once this many Services and EndpointSlices are
  // held (checked after each file), not after the last file: see Memory above.
  static constexpr size_t kInitialBatchObjects = 1000;

  ManifestSource(std::string directory, std::string node_name, ServiceHandler* services,
                 EndpointSliceHandler* endpoint_slices, NodeHandler* node, SourceStats* stats,
                 size_t initial_batch_objects = kInitialBatchObjects);
  ManifestSource(const ManifestSource&) = delete;
  ManifestSource& operator=(const ManifestSource&) = delete;
  ~ManifestSource();

  // Fails (and delivers nothing) if the directory cannot be watched, e.g. it does not exist.
  // Call once.
  Status Start();
  // Idempotent; returns after the watcher thread has exited.
  void Stop();

 private:
  using Digest = ContentDigest::Digest;

  // What stat(2) says of a file; equal identities mean the file was not written since.
  struct FileIdentity {
    uint64_t device = 0;
    uint64_t inode = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileIdentity&) const = default;
  };

  // What the source keeps of one object. Nodes are kept whole: there is one, and its last
  // version is what Update and Delete hand over. A Service or an EndpointSlice is kept as its
  // identity plus a digest of the rest (KeptService, KeptSlice): the core holds what it needs of
  // them, and the source does not hold it a second time.
  template <typename T>
  using KeptOf =
      std::conditional_t<std::is_same_v<T, Service>, KeptService,
                         std::conditional_t<std::is_same_v<T, EndpointSlice>, KeptSlice, T>>;

  // One object a file defines: its key, and the decoded object, or null to keep the definition
  // the file had (its new version failed to decode).
  template <typename T>
  struct Entry {
    std::string key;
    std::unique_ptr<const T> whole;
  };

  // Every file's objects of one kind by namespace/name, and which of them are to be diffed
  // against what was delivered at the next Deliver.
  template <typename T>
  struct KindIndex {
    using Kept = KeptOf<T>;
    // Everything known of one key, in one block (see KeptRecordTable; a map node per key, a
    // vector of definitions and shared kept objects were ~370 bytes per Service or
    // EndpointSlice): what was delivered when kDelivered, before that the first definition seen
    // (its key); the defining file when one file defines the key (empty when none). Almost
    // always one file defines a key and its definition is what was delivered, so that case keeps
    // no per-definition version: kFileDelivered says it.
    using Records = KeptRecordTable<Kept>;
    using Handle = typename Records::Handle;
    // One definition of a key while more than one file defines it, and its version when known.
    struct Definition {
      InternedString file;
      std::optional<Kept> version;
    };

    Records by_key;
    // Every definition, sorted by file name (the last one wins), of each record flagged kMore.
    std::unordered_map<Handle, std::vector<Definition>> more;
    std::set<std::string> touched;
    // The decoded objects of definitions read since the last Deliver, by key and file: what the
    // handlers get. Kinds kept whole keep them (they are their own version).
    std::map<std::string, std::vector<std::pair<InternedString, std::unique_ptr<const T>>>,
             std::less<>>
        pending;
    size_t delivered_count = 0;
    // Duplicate definitions already warned about, by key.
    std::map<std::string, std::vector<std::string>> reported_duplicates;

    // The defining files of a record in name order.
    std::vector<InternedString> Files(Handle h) const;
    bool Defined(Handle h) const {
      return by_key.flag(h, Records::kMore) || !by_key.file(h).empty();
    }
    // Replaces what `file` defines of this kind with `after`. *defined holds the file's records
    // (the keys it defined) and is set to its new ones.
    void Replace(const std::string& file, std::vector<Entry<T>> after,
                 std::vector<Handle>* defined);
    // Forgets a record that no file defines (and, once delivered, whose deletion was).
    void Forget(Handle h);
    // Whether one of `records` has this key.
    bool AnyHasKey(const std::vector<Handle>& records, const std::string& key) const;
    // The decoded object of `file`'s definition of `key`, if held.
    const T* Pending(const std::string& key, const InternedString& file) const;
    void SetPending(const std::string& key, const InternedString& file,
                    std::unique_ptr<const T> whole);
    // Whether the definition `file` has of record `h` is known to be the delivered version.
    bool KnownDelivered(Handle h, const InternedString& file) const;
    // The files whose winning definition of a touched key may differ from what was delivered but
    // whose decoded object is no longer held (a duplicate that wins again after the file that
    // overrode it went away): they must be read again before Deliver.
    std::set<std::string> FilesToReread() const;
  };

  // What one file contributed at its last good version.
  struct FileState {
    std::optional<FileIdentity> identity;  // as of the last read; nullopt: read it again
    std::optional<Digest> digest;  // SHA-256 of the bytes last read; nullopt until a read succeeds
    std::string read_error;        // the read failure already reported, if any
    // The keys it defines, one record handle each (a record outlives every file that defines it).
    std::vector<KindIndex<Service>::Handle> services;
    std::vector<KindIndex<EndpointSlice>::Handle> endpoint_slices;
    std::vector<KindIndex<Node>::Handle> nodes;
  };

  void Run();
  // `initial`: nothing was delivered yet, so decoded objects may be handed over in batches.
  void Rescan(bool initial);
  // Set by a scan that could not list the directory or read a file for lack of descriptors or
  // memory; Run then scans again after a second. Touched by the scanning thread only.
  bool retry_scan_ = false;
  // Refreshes *state from the file; false when the file is gone (or not a regular file).
  bool LoadFile(const std::string& name, FileState* state);
  // Replaces *state's objects with `decoded`, reporting and resolving per-object failures.
  void Accept(const std::string& name, DecodedObjects decoded, FileState* state);
  // Sets *state's objects, keeping the per-kind indexes in step.
  void SetObjects(const std::string& name, FileState* state, std::vector<Entry<Service>> services,
                  std::vector<Entry<EndpointSlice>> slices, std::vector<Entry<Node>> nodes);
  // Hands the handlers what changed among the touched keys; `files`: how many the scan has read
  // so far (the log says it: files_ is the scan's result only once the scan is done).
  void Deliver(size_t files);

  const std::string directory_;
  const std::string node_name_;
  ServiceHandler* const service_handler_;
  EndpointSliceHandler* const slice_handler_;
  NodeHandler* const node_handler_;
  SourceStats* const stats_;
  const size_t initial_batch_objects_;

  DirectoryWatcher watcher_;
  std::thread thread_;
  bool started_ = false;

  // Owned by whichever thread runs Rescan: Start's caller, then the watcher thread.
  std::map<std::string, FileState> files_;  // by file name, sorted: later names win
  KindIndex<Service> services_;
  KindIndex<EndpointSlice> slices_;
  KindIndex<Node> nodes_;
};

}  // namespace kpx
