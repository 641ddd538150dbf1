#include "proxier/health/proxier_health.h"

#include <cstdio>
#include <ctime>

namespace kpx {

std::string ProxierHealth::FormatTime(std::optional<std::chrono::system_clock::time_point> t) {
  if (!t) return "0001-01-01T00:00:00Z";
  const auto since = t->time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros));
  return buf;
}

ProxierHealth::Report ProxierHealth::Evaluate(
    Clock::time_point now, std::chrono::system_clock::time_point wall_now,
    std::optional<Clock::time_point> oldest_pending,
    std::optional<std::chrono::system_clock::time_point> last_updated_wall,
    std::chrono::milliseconds timeout, std::optional<bool> node_eligible) {
  Report r;
  r.healthy = !oldest_pending || now - *oldest_pending < timeout;
  const bool ok = r.healthy && node_eligible.value_or(true);
  r.code = ok ? 200 : 503;
  r.body = "{\"lastUpdated\": \"" + FormatTime(last_updated_wall) + "\",\"currentTime\": \"" +
           FormatTime(wall_now) + "\"";
  if (node_eligible)
    r.body += std::string(", \"nodeEligible\": ") + (*node_eligible ? "true" : "false");
  r.body += "}";
  return r;
}

}  // namespace kpx
