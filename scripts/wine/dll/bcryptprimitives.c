/*
 * A stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks.
 *
 * Go 1.22 and later draw their random numbers from ProcessPrng in
 * bcryptprimitives.dll and stop at start-up when it cannot be loaded; Wine
 * added the DLL only in 9.x. This one forwards to advapi32's
 * SystemFunction036 (RtlGenRandom), which Wine 8.0 has. It is for running
 * homeport's Windows tests under Wine (scripts/test-windows.sh builds it with
 * mingw-w64 and copies it into the Wine prefix); it never ships.
 */
#include <windows.h>

typedef BOOLEAN (WINAPI *rtlgenrandom_fn)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	static rtlgenrandom_fn gen;
	if (gen == NULL) {
		HMODULE advapi = LoadLibraryA("advapi32.dll");
		if (advapi == NULL)
			return FALSE;
		gen = (rtlgenrandom_fn)GetProcAddress(advapi, "SystemFunction036");
		if (gen == NULL)
			return FALSE;
	}
	/* SystemFunction036 takes a ULONG: feed large requests in pieces. */
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!gen(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
