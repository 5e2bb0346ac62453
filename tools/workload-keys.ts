// Keys for the tools' workloads (simulator, chaos, bench) on the hashed ring: text keys, all
// different, some with spaces, accents and CJK, as an application's would be.
export function textKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i % 7 === 3 ? `naïve key ${i}` : i % 11 === 5 ? `键-${i}` : `user:${i}`));
}
