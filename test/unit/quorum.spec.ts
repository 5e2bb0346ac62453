import { expect } from 'chai';
import { requiredAcks } from '../../src/core/quorum.js';
import { levels, type Level } from '../../src/core/types.js';

describe('quorum (requiredAcks)', () => {
  // null: the level needs more replicas than RF, an invalid request.
  const table: Record<number, Record<Level, number | null>> = {
    1: { ONE: 1, TWO: null, THREE: null, QUORUM: 1, ALL: 1 },
    2: { ONE: 1, TWO: 2, THREE: null, QUORUM: 2, ALL: 2 },
    3: { ONE: 1, TWO: 2, THREE: 3, QUORUM: 2, ALL: 3 },
    4: { ONE: 1, TWO: 2, THREE: 3, QUORUM: 3, ALL: 4 },
    5: { ONE: 1, TWO: 2, THREE: 3, QUORUM: 3, ALL: 5 },
  };

  for (const [rf, row] of Object.entries(table)) {
    for (const level of levels) {
      const want = row[level];
      it(want === null ? `RF ${rf}: ${level} is refused` : `RF ${rf}: ${level} needs ${want}`, () => {
        const got = requiredAcks(level, Number(rf));
        if (want === null) {
          expect(got.ok).to.equal(false);
          if (!got.ok) expect(got.reason).to.include(level).and.to.include(`replication factor is ${rf}`);
        } else {
          expect(got).to.deep.equal({ ok: true, acks: want });
        }
      });
    }
  }
});
