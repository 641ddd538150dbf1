#pragma once

// Which sanitizer a test binary is built with (GCC defines __SANITIZE_*__, clang answers
// __has_feature). Long randomized tests run fewer rounds under one: each round costs 3-10x
// there, and the sanitizer looks for memory and thread errors, which the first rounds' code
// paths show as well as the last ones'. The main stage runs every round.
#if defined(__SANITIZE_THREAD__)
#define KPX_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KPX_TEST_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define KPX_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KPX_TEST_ASAN 1
#endif
#endif

namespace kpx {

#if defined(KPX_TEST_TSAN) || defined(KPX_TEST_ASAN)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

// `rounds` in the main stage, a quarter of them (at least one) under a sanitizer.
constexpr int SanitizerRounds(int rounds) {
  return kUnderSanitizer ? (rounds / 4 > 0 ? rounds / 4 : 1) : rounds;
}

}  // namespace kpx
