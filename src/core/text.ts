// Counts in log and status lines, in English: "1 key", "2 keys", "0 hints".
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
