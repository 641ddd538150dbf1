#include "proxier/server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace kpx {
namespace {

// A port the kernel just handed out, so parallel runs do not collide.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One raw HTTP/1.0 exchange; returns the whole response.
std::string Get(int port, const std::string& method, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "connect failed";
  }
  const std::string req = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(HttpServerTest, ServesRoutesFallbackAndRejectsOtherMethods) {
  const int port = FreePort();
  HttpServer server("127.0.0.1:" + std::to_string(port));
  server.Route("/healthz", [](const std::string&) {
    return HttpServer::Response{503, "application/json", "{\"ok\":false}", {{"X-Test", "1"}}};
  });
  ASSERT_TRUE(server.Start().ok());

  const std::string health = Get(port, "GET", "/healthz");
  EXPECT_NE(health.find(" 503 "), std::string::npos) << health;
  EXPECT_NE(health.find("X-Test: 1"), std::string::npos) << health;
  EXPECT_NE(health.find("{\"ok\":false}"), std::string::npos) << health;

  EXPECT_NE(Get(port, "GET", "/nope").find(" 404 "), std::string::npos);
  EXPECT_NE(Get(port, "POST", "/healthz").find(" 405 "), std::string::npos);

  server.Fallback([](const std::string& path) {
    return HttpServer::Response{200, "text/plain", "any " + path, {}};
  });
  EXPECT_NE(Get(port, "GET", "/x/y").find("any /x/y"), std::string::npos);

  server.Stop();
  EXPECT_EQ(Get(port, "GET", "/healthz"), "connect failed");
}

TEST(HttpServerTest, BusyAddressIsAnErrorNotACrash) {
  const int port = FreePort();
  HttpServer a("127.0.0.1:" + std::to_string(port));
  a.Route("/", [](const std::string&) { return HttpServer::Response{200, "text/plain", "a", {}}; });
  ASSERT_TRUE(a.Start().ok());
  HttpServer b("127.0.0.1:" + std::to_string(port));
  const Status st = b.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot serve HTTP on 127.0.0.1:"), std::string::npos);
  // The failed attempt must not have disturbed the server that owns the port.
  EXPECT_NE(Get(port, "GET", "/").find("\r\n\r\na"), std::string::npos);
}

TEST(HttpServerTest, PortHeldByAnotherSocketIsAnError) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  HttpServer server("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  EXPECT_FALSE(server.Start().ok());
  close(fd);
}

}  // namespace
}  // namespace kpx
