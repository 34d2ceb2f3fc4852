// Leaks that pass through our addon but are not ours, each one narrow (every
// pattern must match a frame of the leak's stack) and justified. Used by
// scripts/sanitizer-report.mjs; a leak of ours that matches none fails the run.
export const SUPPRESSIONS = [
  {
    id: 'openssl-thread-drbg',
    // OpenSSL 3 creates a DRBG per thread on the thread's first RAND_bytes
    // and keeps it in a pthread-specific slot, freed when the thread exits.
    // Seen only in children that call process.exit() while pool threads
    // still run (test/fixtures/exit-pending.cjs): the threads are alive, so
    // the DRBG is still in use, but this LeakSanitizer does not scan
    // pthread-specific slots and calls it a leak (direct and indirect).
    frames: [/ in rand_new_drbg /, / in RAND_get0_(public|private) /, / in hsmkms::core::RandomBytes\(/],
  },
];
