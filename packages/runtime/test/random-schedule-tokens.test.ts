import { describe, expect, test } from 'vitest';
import { interleaving } from './helpers.js';

/*
 * The replay tokens of random and PCT runs of one small program, recorded at faefdb8 (before
 * `RandomStream.int` took its remainders by a floored division and the decision log copied
 * its pairs into plain arrays). A seed must give the same decisions, draw for draw, and the
 * same token: a draw computed differently, a lost or repeated pair, or a pair copied short
 * changes them. The scenarios' schedule-token fixture pins whole machines; this one runs
 * in milliseconds.
 */
const RECORDED: Readonly<Record<string, readonly [string, number]>> = {
  'random/1': [
    'mmsim1.1..AQECAgEBAgIBAQIBAwEEAgIBAwEBAwQCAwECAQQBAQIEAQEBBAEDAQIBAQMCAQQBAQECAgQBAgEDAQQBAgEEAQMBBAEDAgQB',
    47,
  ],
  'random/7': [
    'mmsim1.7..AQECAQEBAgEEAQICAQEEAwIBBAEBAwMBAQMEAQEBAgEEAwEBBAECAQEBBAICAQEBBAECAQMCAgMDAQIB',
    43,
  ],
  'random/4242': [
    'mmsim1.39u..AgEEAQIBAwEEAQIBBAEBAQQEAQEDAQEBAgEBAQIBBAICAQEBAgEDAQQCAgEDAQIBAQEEAgICAwIBAQMBAQICAQMBAQECAQEBAwIBAg',
    49,
  ],
  'random/4294967295': [
    'mmsim1.1z141z3..AwMCAgQBAgEDAQEBAgEDAQQDAQEEAQICAwECAgQBAwEEAQIBAwEEAQMDAQICAQMBBAEDAQIBAQMCAQQCAgEBAQQC',
    47,
  ],
  'pct/1': ['mmsim1.1..AQ0EDQIN', 39],
  'pct/7': ['mmsim1.7..BA0BDQIN', 39],
  'pct/4242': ['mmsim1.39u..Aw0BDQIN', 39],
  'pct/4294967295': ['mmsim1.1z141z3..Aw0CDQEN', 39],
};

describe('random and PCT schedules per seed', () => {
  test('four tasks of twelve steps: the tokens and decision counts recorded at faefdb8', () => {
    for (const [key, [token, decisions]] of Object.entries(RECORDED)) {
      const [strategy, seed] = key.split('/') as ['random' | 'pct', string];
      const { result } = interleaving({ strategy, seed: Number(seed) }, 4, 12);
      expect({ key, token: result.replayToken, decisions: result.decisions }).toEqual({
        key,
        token,
        decisions,
      });
      // The token replays the same run.
      const again = interleaving({ strategy: { kind: 'replay', token } }, 4, 12).result;
      expect(again.replayToken).toBe(token);
    }
  });
});
