#include "proxier/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace kpx {

namespace {

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // Shortest text that reads back as the same double, as Prometheus clients print.
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string LabelText(const MetricsRegistry::Labels& labels, const std::string& extra_key = "",
                      const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  }
  if (!extra_key.empty()) {
    if (!first) out += ",";
    out += extra_key + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

}  // namespace

void MetricsRegistry::Counter::Inc(double v) {
  double cur = value_.load();
  while (!value_.compare_exchange_weak(cur, cur + v)) {
  }
}

MetricsRegistry::Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void MetricsRegistry::Histogram::Observe(double v) {
  std::lock_guard lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  ++count_;
  sum_ += v;
}

uint64_t MetricsRegistry::Histogram::Count() const {
  std::lock_guard lock(mu_);
  return count_;
}

double MetricsRegistry::Histogram::Sum() const {
  std::lock_guard lock(mu_);
  return sum_;
}

std::vector<uint64_t> MetricsRegistry::Histogram::Buckets() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out(counts_.size());
  uint64_t acc = 0;
  for (size_t i = 0; i < counts_.size(); ++i) out[i] = acc += counts_[i];
  return out;
}

std::vector<double> MetricsRegistry::ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i, start *= factor) out.push_back(start);
  return out;
}

MetricsRegistry::Family& MetricsRegistry::FamilyLocked(const std::string& name, Type type,
                                                       const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    // A programming error caught at startup, never at runtime.
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

MetricsRegistry::Counter* MetricsRegistry::GetCounter(const std::string& name,
                                                      const std::string& help,
                                                      const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyLocked(name, Type::kCounter, help).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

void MetricsRegistry::SetCounterFunc(const std::string& name, const std::string& help,
                                     const Labels& labels, std::function<double()> read) {
  std::lock_guard lock(mu_);
  FamilyLocked(name, Type::kCounter, help).counters[labels] =
      std::make_unique<Counter>(std::move(read));
}

MetricsRegistry::Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyLocked(name, Type::kGauge, help).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

MetricsRegistry::Histogram* MetricsRegistry::GetHistogram(const std::string& name,
                                                          const std::string& help,
                                                          const std::vector<double>& bounds,
                                                          const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyLocked(name, Type::kHistogram, help).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return slot.get();
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  std::ostringstream os;
  for (const auto& [name, f] : families_) {
    static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
    os << "# HELP " << name << " " << f.help << "\n";
    os << "# TYPE " << name << " " << kTypeNames[static_cast<int>(f.type)] << "\n";
    for (const auto& [labels, c] : f.counters) {
      os << name << LabelText(labels) << " " << FormatValue(c->Value()) << "\n";
    }
    for (const auto& [labels, g] : f.gauges) {
      os << name << LabelText(labels) << " " << FormatValue(g->Value()) << "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      const auto buckets = h->Buckets();
      for (size_t i = 0; i < buckets.size(); ++i) {
        const std::string le = i < h->bounds().size() ? FormatValue(h->bounds()[i]) : "+Inf";
        os << name << "_bucket" << LabelText(labels, "le", le) << " " << buckets[i] << "\n";
      }
      os << name << "_sum" << LabelText(labels) << " " << FormatValue(h->Sum()) << "\n";
      os << name << "_count" << LabelText(labels) << " " << h->Count() << "\n";
    }
  }
  return os.str();
}

}  // namespace kpx
