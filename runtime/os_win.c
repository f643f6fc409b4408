/* weft — the OS primitives on Windows (os_win.h says why they live here
 * and not inline).  Built only when meson.build targets Windows. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <bcrypt.h>
#include <errno.h>
#include <limits.h>
#include <process.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

_Static_assert(sizeof(weft__mutex) == sizeof(SRWLOCK), "weft__mutex is an SRWLOCK");
_Static_assert(sizeof(weft__cond) == sizeof(CONDITION_VARIABLE),
               "weft__cond is a CONDITION_VARIABLE");

static SRWLOCK *srw(weft__mutex *m) { return (SRWLOCK *)&m->weft__srw; }
static CONDITION_VARIABLE *cv(weft__cond *c) { return (CONDITION_VARIABLE *)&c->weft__cv; }

void weft__mutex_lock(weft__mutex *m) { AcquireSRWLockExclusive(srw(m)); }
void weft__mutex_unlock(weft__mutex *m) { ReleaseSRWLockExclusive(srw(m)); }

void weft__cond_signal(weft__cond *c) { WakeConditionVariable(cv(c)); }
void weft__cond_broadcast(weft__cond *c) { WakeAllConditionVariable(cv(c)); }
void weft__cond_wait(weft__cond *c, weft__mutex *m) {
    SleepConditionVariableSRW(cv(c), srw(m), INFINITE, 0);
}

/* The wait takes a relative timeout in ms: round up, so the wait never
 * ends before the deadline (callers re-check their condition and the
 * clock, as with a POSIX timed wait, and a wake that came too early would
 * make them spin until it passes). */
void weft__cond_wait_until(weft__cond *c, weft__mutex *m, uint64_t deadline_ns) {
    if (deadline_ns == UINT64_MAX) {
        weft__cond_wait(c, m);
        return;
    }
    uint64_t now = weft__os_now_ns();
    if (now >= deadline_ns)
        return;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    if (ms >= INFINITE)
        ms = INFINITE - 1;
    SleepConditionVariableSRW(cv(c), srw(m), (DWORD)ms, 0);
}

/* QueryPerformanceCounter ticks at a fixed frequency, read once (every
 * thread computes the same value, so a race to store it is harmless but
 * the atomic keeps it defined). */
uint64_t weft__os_now_ns(void) {
    static _Atomic int64_t freq;
    int64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
    if (!f) {
        LARGE_INTEGER q;
        QueryPerformanceFrequency(&q);
        f = q.QuadPart;
        atomic_store_explicit(&freq, f, memory_order_relaxed);
    }
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    uint64_t ticks = (uint64_t)t.QuadPart, uf = (uint64_t)f;
    /* split so ticks * 1e9 cannot overflow */
    return ticks / uf * 1000000000u + ticks % uf * 1000000000u / uf;
}

/* ---------------------------------------------------------------- threads */

typedef struct start_box {
    void *(*fn)(void *);
    void *arg;
} start_box;

static unsigned __stdcall thread_main(void *p) {
    start_box box = *(start_box *)p;
    free(p);
    box.fn(box.arg);
    return 0;
}

/* _beginthreadex rather than CreateThread: the C runtime sets up its
 * per-thread state (errno, strtok...) for threads it starts. */
int weft__thread_start(weft__thread *t, void *(*fn)(void *), void *arg, size_t stack,
                       bool detached) {
    start_box *box = malloc(sizeof *box);
    if (!box)
        return ENOMEM;
    box->fn = fn;
    box->arg = arg;
    unsigned id;
    uintptr_t h = _beginthreadex(NULL, (unsigned)stack, thread_main, box,
                                 stack ? STACK_SIZE_PARAM_IS_A_RESERVATION : 0, &id);
    if (!h) {
        int err = errno ? errno : EAGAIN;
        free(box);
        return err;
    }
    t->weft__id = id;
    if (detached) {
        CloseHandle((HANDLE)h);
        t->weft__handle = NULL;
    } else {
        t->weft__handle = (void *)h;
    }
    return 0;
}

void weft__thread_join(weft__thread t) {
    WaitForSingleObject((HANDLE)t.weft__handle, INFINITE);
    CloseHandle((HANDLE)t.weft__handle);
}

weft__thread weft__thread_self(void) {
    return (weft__thread){.weft__handle = NULL, .weft__id = GetCurrentThreadId()};
}

/* SetThreadDescription exists from Windows 10 1607: looked up, so the
 * library still loads on older systems (the name is only a debugging aid). */
typedef HRESULT(WINAPI *set_description_fn)(HANDLE, PCWSTR);

void weft__thread_set_name(const char *name) {
    HMODULE k = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k ? GetProcAddress(k, "SetThreadDescription") : NULL;
    if (!p)
        return;
    set_description_fn set;
    _Static_assert(sizeof set == sizeof p, "function pointers");
    memcpy(&set, &p, sizeof set);
    wchar_t buf[64];
    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, buf, (int)(sizeof buf / sizeof buf[0])) > 0)
        set(GetCurrentThread(), buf);
}

/* GetThreadDescription: Windows 10 1607 too, looked up the same way. */
typedef HRESULT(WINAPI *get_description_fn)(HANDLE, PWSTR *);

void weft__thread_get_name(char *buf, size_t n) {
    if (n == 0)
        return;
    buf[0] = '\0';
    HMODULE k = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k ? GetProcAddress(k, "GetThreadDescription") : NULL;
    if (!p)
        return;
    get_description_fn get;
    memcpy(&get, &p, sizeof get);
    PWSTR w = NULL;
    if (SUCCEEDED(get(GetCurrentThread(), &w)) && w) {
        if (WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)n, NULL, NULL) <= 0)
            buf[0] = '\0';
        LocalFree(w);
    }
}

unsigned weft__cpu_count(void) {
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n > 0 ? (unsigned)n : 1u;
}

void weft__os_yield(void) { SwitchToThread(); }

bool weft__os_program_name(char *buf, size_t n) {
    if (n == 0 || __argc < 1 || !__argv || !__argv[0])
        return false;
    size_t len = strlen(__argv[0]);
    if (len >= 4 && _stricmp(__argv[0] + len - 4, ".exe") == 0)
        len -= 4;
    if (len >= n)
        len = n - 1;
    memcpy(buf, __argv[0], len);
    buf[len] = 0;
    return true;
}

/* ------------------------------------------------------------ randomness */

bool weft__os_random_bytes(void *buf, size_t n) {
    return n <= ULONG_MAX &&
           BCRYPT_SUCCESS(BCryptGenRandom(NULL, buf, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG));
}

/* ---------------------------------------------------------------- crashes */

void weft__os_write_err(const char *s, size_t n) {
    DWORD w;
    WriteFile(GetStdHandle(STD_ERROR_HANDLE), s, (DWORD)n, &w, NULL);
}
