// mocha adds the spec files named on its command line to the config's `spec` instead of replacing it,
// so `npx mocha test/unit/store.spec.ts` would run the whole suite (real clusters included). Every
// spec when none is named (npm test), just the named ones otherwise.
const named = process.argv.slice(2).some((arg) => /\.spec\.ts$/.test(arg));
module.exports = {
  ...(named ? {} : { spec: ['test/**/*.spec.ts'] }),
  'node-option': ['import=tsx'],
  timeout: 20000,
  reporter: 'spec',
};
