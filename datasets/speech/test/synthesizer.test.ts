import { isSilent } from '@recurrent/audio';
import { describe, expect, it } from 'vitest';
import { ACCENTS, createSynthesizer, ESPEAK_SAMPLE_RATE, VARIANTS, type Synthesizer } from '../src/index.js';

/** Median F0 in Hz of the voiced frames, by autocorrelation (60..400 Hz). */
function medianPitch(samples: Float32Array, rate: number): number {
  const frame = 1024;
  const minLag = Math.floor(rate / 400);
  const maxLag = Math.ceil(rate / 60);
  const pitches: number[] = [];
  for (let start = 0; start + frame + maxLag <= samples.length; start += frame / 2) {
    let energy = 0;
    for (let i = 0; i < frame; i++) energy += samples[start + i]! ** 2;
    if (energy / frame < 1e-3) continue;
    let best = 0;
    let bestLag = 0;
    for (let lag = minLag; lag <= maxLag; lag++) {
      let sum = 0;
      for (let i = 0; i < frame; i++) sum += samples[start + i]! * samples[start + i + lag]!;
      if (sum > best) [best, bestLag] = [sum, lag];
    }
    if (best > 0.3 * energy) pitches.push(rate / bestLag);
  }
  pitches.sort((a, b) => a - b);
  return pitches[Math.floor(pitches.length / 2)] ?? NaN;
}

describe('createSynthesizer', async () => {
  const synth: Synthesizer = await createSynthesizer();

  it('lists the English voices and the catalogue variants', () => {
    const voices = synth.voices();
    expect(voices.length).toBe(140);
    expect(voices.find((voice) => voice.id === 'en-us')).toEqual({ id: 'en-us', name: 'English (America)', identifier: 'gmw/en-US', languages: ['en-us', 'en'] });
    const ids = new Set(voices.map((voice) => voice.id));
    for (const accent of ACCENTS) expect(ids.has(accent), accent).toBe(true);
    const variants = new Map(synth.variants().map((variant) => [variant.id, variant]));
    expect(variants.size).toBe(104);
    for (const { id } of VARIANTS) expect(variants.has(id), id).toBe(true);
    expect(variants.get('f2')).toEqual({ id: 'f2', name: 'female2', gender: 'female' });
    expect(variants.get('klatt')).toEqual({ id: 'klatt', name: 'klatt', gender: undefined });
  });

  it('says "one two three" audibly in a plausible time, faster at a higher rate', () => {
    const speech = synth.speak('one two three', { voice: 'en-us', rate: 175, pitch: 50 });
    expect(speech.sampleRate).toBe(ESPEAK_SAMPLE_RATE);
    const seconds = speech.samples.length / speech.sampleRate;
    expect(seconds).toBeGreaterThan(0.5);
    expect(seconds).toBeLessThan(2);
    expect(isSilent(speech.samples, -40)).toBe(false);
    expect(Math.max(...speech.samples.map(Math.abs))).toBeLessThanOrEqual(1);
    const slow = synth.speak('one two three', { voice: 'en-us', rate: 90 }).samples.length;
    const fast = synth.speak('one two three', { voice: 'en-us', rate: 400 }).samples.length;
    expect(slow).toBeGreaterThan(2.5 * fast);
  });

  it('gives different voices different audio: a female variant is higher than a male one', () => {
    const female = synth.speak('three seven nine', { voice: 'en-us+f2' }).samples;
    const male = synth.speak('three seven nine', { voice: 'en-gb-scotland+m3' }).samples;
    expect(female).not.toEqual(male);
    const [f0Female, f0Male] = [medianPitch(female, ESPEAK_SAMPLE_RATE), medianPitch(male, ESPEAK_SAMPLE_RATE)];
    expect(f0Female).toBeGreaterThan(1.4 * f0Male);
    const high = medianPitch(synth.speak('three seven nine', { voice: 'en-us+m1', pitch: 90 }).samples, ESPEAK_SAMPLE_RATE);
    const low = medianPitch(synth.speak('three seven nine', { voice: 'en-us+m1', pitch: 10 }).samples, ESPEAK_SAMPLE_RATE);
    expect(high).toBeGreaterThan(1.2 * low);
  });

  it('repeats exactly for a seed, breath noise included, and changes with the seed', async () => {
    const say = (s: Synthesizer) => [s.speak('four two', { voice: 'en-us+f2' }).samples, s.speak('four two', { voice: 'en+whisper' }).samples];
    const [a, b, c] = [await createSynthesizer({ seed: 5 }), await createSynthesizer({ seed: 5 }), await createSynthesizer({ seed: 6 })];
    const [first, again, other] = [say(a), say(b), say(c)];
    expect(again).toEqual(first);
    expect(other[1]).not.toEqual(first[1]); // whisper is all noise
  });

  it('refuses unknown voices and variants and bad settings with the fix', () => {
    const speak = (voice: string, rate?: number, pitch?: number) => () => synth.speak('one', { voice, rate, pitch });
    expect(speak('en-gb+f2')).toThrow('unknown eSpeak voice "en-gb+f2": "en-gb" is a language code, not a voice; its voice is "en"');
    expect(speak('martian')).toThrow(/unknown eSpeak voice "martian": no voice is called "martian"\. Use a voice id \(English: en-029, en, .*en-us, en-us-nyc; all: synthesizer\.voices\(\)\)/);
    expect(speak('en-us+F2')).toThrow('unknown eSpeak voice variant "F2" in "en-us+F2"; variant names are case-sensitive: use "f2"');
    expect(speak('en-us+nobody')).toThrow('unknown eSpeak voice variant "nobody"');
    expect(speak('en-us', 500)).toThrow('rate (words per minute) must be a number from 80 to 450, got 500');
    expect(speak('en-us', 175, 100)).toThrow('pitch must be a whole number from 0 to 99, got 100');
    expect(() => synth.speak('  ', { voice: 'en-us' })).toThrow('text must be a non-empty string');
    expect(synth.speak('five', { voice: 'EN-US+m3' }).samples.length).toBeGreaterThan(0); // voice ids are case-insensitive
  });
});
