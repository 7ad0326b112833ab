import { describe, expect, it } from 'vitest';
import { ACCENTS, DIGIT_WORDS, splitVoices, VARIANTS, VOICE_CATALOGUE, WORDS, type SpeakerVoice } from '../src/index.js';

const ids = (voices: readonly SpeakerVoice[]) => voices.map((voice) => voice.id);
const overlap = (a: readonly string[], b: readonly string[]) => a.filter((x) => b.includes(x));

describe('the voice catalogue and its split', () => {
  it('has 8 accents x 22 variants = 176 distinct speakers', () => {
    expect(ACCENTS.length).toBe(8);
    expect(VARIANTS.length).toBe(22);
    expect(VOICE_CATALOGUE.length).toBe(176);
    expect(new Set(ids(VOICE_CATALOGUE)).size).toBe(176);
    expect(VOICE_CATALOGUE[0]).toEqual({ id: 'en-us+f1', accent: 'en-us', variant: 'f1', sex: 'female' });
    expect(VOICE_CATALOGUE.filter((voice) => voice.sex === 'female').length).toBe(80);
    expect(ids(VOICE_CATALOGUE).some((id) => id.includes('whisper'))).toBe(false);
  });

  it('splits speakers 124 / 26 / 26, disjoint, both sexes in each, the same for a seed', () => {
    const split = splitVoices(42);
    expect([split.train.length, split.validation.length, split.test.length]).toEqual([124, 26, 26]);
    expect(overlap(ids(split.train), ids(split.test))).toEqual([]);
    expect(overlap(ids(split.train), ids(split.validation))).toEqual([]);
    expect(overlap(ids(split.validation), ids(split.test))).toEqual([]);
    expect(new Set([...ids(split.train), ...ids(split.validation), ...ids(split.test)]).size).toBe(176);
    for (const part of [split.validation, split.test]) {
      expect(part.filter((voice) => voice.sex === 'female').length).toBe(12);
      expect(part.filter((voice) => voice.sex === 'male').length).toBe(14);
    }
    expect(splitVoices(42)).toEqual(split);
    expect(overlap(ids(splitVoices(43).test), ids(split.test)).length).toBeLessThan(15);
    const order = ids(VOICE_CATALOGUE);
    expect(ids(split.test)).toEqual([...ids(split.test)].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
  });

  it("with holdOut 'variant' keeps each timbre in one split: 112 / 32 / 32", () => {
    const split = splitVoices(42, 'variant');
    expect([split.train.length, split.validation.length, split.test.length]).toEqual([112, 32, 32]);
    const variants = (voices: readonly SpeakerVoice[]) => [...new Set(voices.map((voice) => voice.variant))];
    expect(variants(split.test).length).toBe(4);
    expect(overlap(variants(split.train), variants(split.test))).toEqual([]);
    expect(overlap(variants(split.train), variants(split.validation))).toEqual([]);
    expect(overlap(variants(split.validation), variants(split.test))).toEqual([]);
    expect(() => splitVoices(42, 'accent' as never)).toThrow("holdOut must be 'voice' or 'variant'");
    expect(() => splitVoices(-1)).toThrow('seed must be a whole number');
  });
});

describe('the texts', () => {
  it('has 200 distinct plain lower-case words, none a digit word or a homophone of another', () => {
    expect(WORDS.length).toBe(200);
    expect(new Set(WORDS).size).toBe(200);
    expect(WORDS.filter((word) => !/^[a-z]+$/.test(word))).toEqual([]);
    const digitSounds = [...DIGIT_WORDS, 'oh', 'won', 'to', 'too', 'for', 'fore', 'ate', 'nein'];
    expect(overlap(WORDS, digitSounds)).toEqual([]);
    const homophones = [
      ['buy', 'by', 'bye'], ['plane', 'plain'], ['flower', 'flour'], ['weather', 'whether'], ['week', 'weak'], ['red', 'read'],
      ['blue', 'blew'], ['new', 'knew'], ['night', 'knight'], ['hour', 'our'], ['son', 'sun'], ['see', 'sea'], ['right', 'write'],
      ['there', 'their'], ['here', 'hear'], ['know', 'no'], ['meet', 'meat'], ['would', 'wood'], ['made', 'maid'], ['eye', 'i'],
    ];
    for (const group of homophones) expect(overlap(WORDS, group).length, group.join('/')).toBeLessThanOrEqual(1);
    expect(overlap(WORDS, ['read', 'live', 'close', 'minute', 'present', 'record', 'lead', 'wind', 'tear', 'use'])).toEqual([]);
  });
});
