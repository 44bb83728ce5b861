import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  formatDuration,
  parseRetryAfter,
  poll,
  PollTimeoutError,
  retry,
  untilAborted,
} from '../../src/poll/index.js';

/** A clock that only moves when the poller sleeps: deadlines are tested without real waiting. */
function fakeClock() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('poll', () => {
  it('backs off exponentially up to the cap, and honours a longer Retry-After', async () => {
    const c = fakeClock();
    let n = 0;
    const v = await poll(
      async () =>
        ++n < 6
          ? { done: false, reason: 'not yet', retryAfterMs: n === 2 ? 9000 : undefined }
          : { done: true, value: n },
      { what: 'x', baseMs: 1000, capMs: 4000, jitter: 0, now: c.now, sleep: c.sleep, deadlineMs: 60_000 },
    );
    expect(v).toBe(6);
    expect(c.slept).toEqual([1000, 9000, 4000, 4000, 4000]);
  });

  it('uses the whole wait (a last attempt at the deadline), then gives up with what it waited for and the last reason', async () => {
    const c = fakeClock();
    const err = await poll(async () => ({ done: false, reason: 'consent not granted' }), {
      what: 'admin consent',
      deadlineMs: 10_000,
      jitter: 0,
      now: c.now,
      sleep: c.sleep,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PollTimeoutError);
    expect((err as PollTimeoutError).message).toMatch(
      /admin consent: still not done after 10 s \(5 attempts\): consent not granted/,
    );
  });

  it('stops when the signal aborts, with its reason', async () => {
    const ac = new AbortController();
    const p = poll(async () => ({ done: false, reason: 'no' }), { what: 'x', baseMs: 50, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('interrupted')), 10);
    await expect(p).rejects.toThrow('interrupted');
  });

  it('retry: rethrows a final error at once, and the last retryable one after the deadline', async () => {
    const c = fakeClock();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('final');
        },
        () => false,
        { what: 'x', now: c.now, sleep: c.sleep },
      ),
    ).rejects.toThrow('final');
    expect(calls).toBe(1);
    await expect(
      retry(
        async () => {
          throw new Error('503');
        },
        () => true,
        { what: 'x', deadlineMs: 3000, jitter: 0, now: c.now, sleep: c.sleep },
      ),
    ).rejects.toThrow('503');
  });

  it('jitter stays within its fraction; durations read well', () => {
    for (const r of [0, 0.5, 0.999]) {
      const d = backoffDelay(3, { baseMs: 1000, capMs: 60_000, jitter: 0.2 }, undefined, () => r);
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
    }
    expect(formatDuration(10_000)).toBe('10 s');
    expect(formatDuration(30 * 60_000)).toBe('30 min');
    expect(formatDuration(150 * 60_000)).toBe('2 h 30 min');
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('untilAborted: stops waiting for work that cannot be cancelled, or passes its outcome through', async () => {
    const ac = new AbortController();
    const never = new Promise<string>(() => undefined);
    const waiting = untilAborted(never, ac.signal);
    ac.abort(new Error('interrupted'));
    await expect(waiting).rejects.toThrow('interrupted');
    await expect(untilAborted(Promise.resolve('done'), new AbortController().signal)).resolves.toBe('done');
    await expect(untilAborted(Promise.reject(new Error('failed')), undefined)).rejects.toThrow('failed');
  });
});
