#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/exchange.h"

namespace kpx::testing {

// Blocking client helpers with timeouts, for tests that push real traffic through a dataplane
// (ExchangeOnce in exchange.h is the non-blocking single probe). Every call is bounded: sockets
// get 10 s send/receive timeouts.

// A connected TCP socket to ip:port (optionally from `source`), or -1.
int TcpConnect(const std::string& ip, int port, const std::string& source = "");
// A UDP socket connected to ip:port, or -1.
int UdpConnect(const std::string& ip, int port);
bool SendAll(int fd, const char* data, size_t len);
bool SendAll(int fd, const std::string& s);
// Reads one line without the newline; "ERROR <reason>" on failure or EOF before a newline.
std::string ReadLine(int fd);
// Reads until EOF. Returns false (with errno set) on an error such as a reset.
bool ReadToEof(int fd, std::string* out);
// The first line a fresh connection to ip:port answers with ("NAME peer"), or "ERROR ...".
std::string Greeting(const std::string& ip, int port, const std::string& source = "");
// True once a fresh TCP connection to ip:port is answered with a line (a server started in the
// background is up); false if `timeout` passed first.
bool WaitForGreeting(const std::string& ip, int port,
                     std::chrono::milliseconds timeout = std::chrono::seconds(2));
// One UDP request/answer; "ERROR timeout" after `timeout_ms`.
std::string UdpRequest(int fd, const std::string& payload, int timeout_ms = 2000);
// FNV-1a over `data`, continuing from `h`.
uint64_t Fnv(const char* data, size_t len, uint64_t h = 1469598103934665603ull);
// Deterministic pseudo-random bytes.
std::string Pattern(size_t len, uint32_t seed);
// Sends `payload` from one thread while reading from another; returns what came back before
// EOF. With `half_close`, shuts the write side after sending. Used for byte-exact round trips.
struct RoundTrip {
  bool ok = false;
  std::string received;
};
RoundTrip EchoRoundTrip(int fd, const std::string& payload, size_t expect_bytes,
                        bool half_close = true);
// On every connection at once (one thread each): reads the greeting, sends `bytes` of a pattern
// distinct per connection and checks the echo is byte-exact; closes them all. Returns how many
// succeeded (a -1 fd counts as a failure).
int ConcurrentEchoRoundTrips(const std::vector<int>& fds, size_t bytes);

// An in-process TCP/UDP server on one address for relay tests. Modes:
//  kGreetEcho: sends "NAME peer-ip:port\n", then echoes until EOF, then closes.
//  kCount: reads until EOF, then answers "NAME <bytes> <fnv>\n" and closes (half-close check).
//  kReset: sends the greeting, reads one byte, then resets the connection (SO_LINGER 0).
// UDP (when udp_port > 0): answers each datagram with "NAME peer-ip:port <payload>".
// `stream` Transport::kSctp serves the stream modes over SCTP (one-to-one style) on `tcp_port`
// instead of TCP.
class TestBackend {
 public:
  enum class Mode { kGreetEcho, kCount, kReset };
  TestBackend(std::string name, std::string ip, int tcp_port, int udp_port = 0,
              Mode mode = Mode::kGreetEcho, Transport stream = Transport::kTcp);
  ~TestBackend();
  bool ok() const { return tcp_fd_ >= 0; }
  int accepted() const { return accepted_.load(); }
  const std::string& ip() const { return ip_; }
  int port() const { return port_; }

 private:
  void AcceptLoop();
  void UdpLoop();
  void Serve(int fd, std::string peer);

  std::string name_, ip_;
  int port_;
  Mode mode_;
  int tcp_fd_ = -1;
  int udp_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that ends the loops
  std::atomic<int> accepted_{0};
  std::atomic<int> serving_{0};
  std::thread accept_thread_, udp_thread_;
};

}  // namespace kpx::testing
