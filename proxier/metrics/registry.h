#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kpx {

// Prometheus metric families with kube-proxy's names, rendered in the text exposition format.
// Every metric is safe to update from any thread; registration happens at startup.
class MetricsRegistry {
 public:
  using Labels = std::map<std::string, std::string>;

  class Counter {
   public:
    Counter() = default;
    // A counter whose value is read from elsewhere (e.g. a source's atomic stats) at scrape time.
    explicit Counter(std::function<double()> read) : read_(std::move(read)) {}
    void Inc(double v = 1);
    // Mirrors a monotonic total kept elsewhere (a dataplane's own counters).
    void Set(double v) { value_.store(v); }
    double Value() const { return read_ ? read_() : value_.load(); }

   private:
    std::atomic<double> value_{0};
    std::function<double()> read_;
  };
  class Gauge {
   public:
    void Set(double v) { value_.store(v); }
    double Value() const { return value_.load(); }

   private:
    std::atomic<double> value_{0};
  };
  class Histogram {
   public:
    explicit Histogram(std::vector<double> bounds);
    void Observe(double v);
    uint64_t Count() const;
    double Sum() const;
    // Cumulative counts per bucket bound, +Inf last.
    std::vector<uint64_t> Buckets() const;
    const std::vector<double>& bounds() const { return bounds_; }

   private:
    const std::vector<double> bounds_;
    mutable std::mutex mu_;
    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    double sum_ = 0;
  };

  // Returned pointers live as long as the registry. Asking twice for the same name and labels
  // returns the same metric.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  // Registers a counter read through `read`; replaces an earlier one with the same labels.
  void SetCounterFunc(const std::string& name, const std::string& help, const Labels& labels,
                      std::function<double()> read);
  Gauge* GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});

  // The whole registry in Prometheus text format 0.0.4, families sorted by name.
  std::string Render() const;

  // kube-proxy's bucket layout for sync durations: exponential from 1 ms, factor 2, 15 buckets.
  static std::vector<double> ExponentialBuckets(double start, double factor, int count);

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(const std::string& name, Type type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace kpx
