/* A stand-in for Windows' bcryptprimitives.dll, for wine versions that lack it (Debian 12's
 * wine 8.0). Rust's std (1.78 and later) gets its random bytes from `ProcessPrng` there, so
 * without this every Windows test binary fails to start under such a wine (status
 * c0000135, "DLL not found"). `ProcessPrng` is forwarded to `RtlGenRandom`. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
