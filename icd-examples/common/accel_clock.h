/*
 * accel_clock.h — what the example drivers' fence waits and polling
 * loops (and the uacce emulator's) time and spin with: the monotonic clock
 * in nanoseconds and the processor's spin-wait hint.
 *
 * Header only (static inline, no state, no dependency); thread-safe.
 */
#ifndef ACCEL_CLOCK_H
#define ACCEL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t accel_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One turn of a spin-wait loop: PAUSE on x86, YIELD on AArch64 (the other
 * hardware thread of the core runs meanwhile); nothing elsewhere. */
static inline void accel_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
