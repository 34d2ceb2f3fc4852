// Warnings are errors in CI and in the developer test build; a user's
// source build with a newer compiler should not fail on a new warning.
process.stdout.write(process.env.CI || process.env.HSMKMS_WERROR ? '-Werror' : '-Wno-error');
