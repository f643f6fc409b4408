/* weft tests — os_test.h on Windows. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "os_test.h"

/* The process's handles, counted from the system's handle table
 * (SystemHandleInformation, class 16): GetProcessHandleCount would be
 * the documented call, but wine answers it with 0 always. */
typedef LONG(WINAPI *query_fn)(ULONG, PVOID, ULONG, PULONG);
typedef struct handle_entry {
    ULONG pid;
    BYTE type, flags;
    USHORT handle;
    PVOID object;
    ACCESS_MASK access;
} handle_entry;
typedef struct handle_table {
    ULONG count;
    handle_entry entries[1];
} handle_table;

int wt_os_open_handles(void) {
    query_fn q = (query_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("ntdll.dll"),
                                                          "NtQuerySystemInformation");
    if (!q)
        return -1;
    ULONG size = 1u << 20, got = 0;
    handle_table *t = malloc(size);
    LONG st;
    while (t && (st = q(16, t, size, &got)) == (LONG)0xC0000004) { /* too small */
        size *= 2;
        handle_table *bigger = realloc(t, size);
        if (!bigger)
            free(t);
        t = bigger;
    }
    if (!t || st) {
        free(t);
        return -1;
    }
    DWORD me = GetCurrentProcessId();
    int n = 0;
    for (ULONG i = 0; i < t->count; i++)
        n += t->entries[i].pid == me;
    free(t);
    return n;
}

/* A thread that aborts the process once the deadline passes (Windows has
 * no SIGALRM). */
static volatile LONG64 deadline_ms; /* GetTickCount64 time, 0: disarmed */
static INIT_ONCE watchdog_once = INIT_ONCE_STATIC_INIT;

static DWORD WINAPI watchdog_main(LPVOID arg) {
    (void)arg;
    for (;;) {
        Sleep(100);
        LONG64 d = deadline_ms;
        if (d && (LONG64)GetTickCount64() > d) {
            fprintf(stderr, "watchdog: a test ran past its time limit (a lost wake-up?)\n");
            fflush(stderr);
            _exit(3);
        }
    }
}

static BOOL CALLBACK start_watchdog(PINIT_ONCE once, PVOID arg, PVOID *ctx) {
    (void)once;
    (void)arg;
    (void)ctx;
    HANDLE h = CreateThread(NULL, 0, watchdog_main, NULL, 0, NULL);
    if (h)
        CloseHandle(h);
    return TRUE;
}

void wt_os_watchdog(int secs) {
    InitOnceExecuteOnce(&watchdog_once, start_watchdog, NULL, NULL);
    deadline_ms = secs ? (LONG64)GetTickCount64() + (LONG64)secs * 1000 : 0;
}

long wt_os_cpu_us(void) {
    FILETIME created, exited, kernel, user;
    GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user);
    uint64_t k = ((uint64_t)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
    uint64_t u = ((uint64_t)user.dwHighDateTime << 32) | user.dwLowDateTime;
    return (long)((k + u) / 10); /* 100 ns units */
}

void wt_os_sigpipe_default(void) {} /* no SIGPIPE on Windows */

bool wt_os_limit_descriptors(int extra) {
    (void)extra;
    return false;
}
void wt_os_unlimit_descriptors(void) {}

bool wt_os_unix_sockets(void) { return false; }

/* Wine's ntdll exports wine_get_version; Windows' does not. */
bool wt_os_linger_zero_resets(void) {
    return GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") == NULL;
}
