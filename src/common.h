/*
 * common.h - attributes, small macros and banned functions for every module.
 *
 * libc only. Every .c file of the project includes this first.
 */
#ifndef SMPPBRIDGE_COMMON_H
#define SMPPBRIDGE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__) || defined(__clang__)
#define WARN_UNUSED __attribute__((warn_unused_result))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WARN_UNUSED
#define PRINTF_LIKE(fmt, args)
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/*
 * Unbounded string functions have no place in code that handles wire bytes:
 * any use is a compile error. System headers are included before this point
 * by every file that needs them, so the poison only hits project code.
 */
#if defined(__GNUC__) && !defined(SMPPBRIDGE_NO_POISON)
#include <string.h>
#include <stdio.h>
#pragma GCC poison strcpy strcat sprintf vsprintf gets
#endif

#endif /* SMPPBRIDGE_COMMON_H */
