/** The fixed catalogue of English synthetic speakers and its seeded split. */
import { mulberry32, shuffle } from '@recurrent/core';

/**
 * The English language voices of eSpeak-NG (all eight in the data bundle): each has its own
 * pronunciation rules, so they act as accents. 'en' is eSpeak's British English voice.
 */
export const ACCENTS = ['en-us', 'en-us-nyc', 'en', 'en-gb-scotland', 'en-gb-x-rp', 'en-gb-x-gbclan', 'en-gb-x-gbcwmd', 'en-029'] as const;

export type Accent = (typeof ACCENTS)[number];

/**
 * The voice variants used (timbres: pitch range, formant scaling, roughness, echo, or Klatt
 * synthesis), 10 female and 12 male. Left out: whisper and whisperf (unvoiced: no pitch, poor for
 * the digit task), klatt4..klatt6 (klatt4 clips at full scale), the novelty voices (Demonic,
 * robosoft*, UniRobot, announcer, grandma's muffled formants, 'fast' ...) and the rest of the
 * contributed named variants, to keep the set small and plainly human-like.
 */
export const VARIANTS = [
  { id: 'f1', sex: 'female' },
  { id: 'f2', sex: 'female' },
  { id: 'f3', sex: 'female' },
  { id: 'f4', sex: 'female' },
  { id: 'f5', sex: 'female' },
  { id: 'aunty', sex: 'female' },
  { id: 'Annie', sex: 'female' },
  { id: 'belinda', sex: 'female' },
  { id: 'linda', sex: 'female' },
  { id: 'steph', sex: 'female' },
  { id: 'm1', sex: 'male' },
  { id: 'm2', sex: 'male' },
  { id: 'm3', sex: 'male' },
  { id: 'm4', sex: 'male' },
  { id: 'm5', sex: 'male' },
  { id: 'm6', sex: 'male' },
  { id: 'm7', sex: 'male' },
  { id: 'm8', sex: 'male' },
  { id: 'klatt', sex: 'male' },
  { id: 'klatt2', sex: 'male' },
  { id: 'klatt3', sex: 'male' },
  { id: 'croak', sex: 'male' },
] as const satisfies ReadonlyArray<{ id: string; sex: 'female' | 'male' }>;

export type Sex = 'female' | 'male';

/** One synthetic speaker: an accent (language voice) with a variant (timbre). */
export interface SpeakerVoice {
  /** What `speak` takes: `${accent}+${variant}`, e.g. 'en-us+f2'. */
  id: string;
  accent: Accent;
  variant: string;
  sex: Sex;
}

/** All 176 speakers (8 accents x 22 variants), accent-major, in the order of ACCENTS and VARIANTS. */
export const VOICE_CATALOGUE: readonly SpeakerVoice[] = Object.freeze(
  ACCENTS.flatMap((accent) => VARIANTS.map(({ id, sex }) => Object.freeze({ id: `${accent}+${id}`, accent, variant: id, sex }))),
);

export interface VoiceSplit {
  train: SpeakerVoice[];
  validation: SpeakerVoice[];
  test: SpeakerVoice[];
}

/**
 * - 'voice' (default): each speaker (accent + variant) is in one split; a held-out speaker's
 *   accent and timbre each also occur in training, only never together.
 * - 'variant': each variant with all its accents is in one split, so the timbres of validation
 *   and test are never heard in training (in any accent).
 */
export type HoldOut = 'voice' | 'variant';

export const HOLD_OUT_SHARE = 0.15;

/** test first, then validation, the rest train, each group shuffled with the one generator in turn. */
function splitGroups<T>(groups: ReadonlyArray<readonly T[]>, seed: number): { train: T[]; validation: T[]; test: T[] } {
  const random = mulberry32(seed);
  const out = { train: [] as T[], validation: [] as T[], test: [] as T[] };
  for (const group of groups) {
    const order = shuffle(group, random);
    const held = Math.round(HOLD_OUT_SHARE * group.length);
    out.test.push(...order.slice(0, held));
    out.validation.push(...order.slice(held, 2 * held));
    out.train.push(...order.slice(2 * held));
  }
  return out;
}

/**
 * The seeded split of VOICE_CATALOGUE by speaker. The rule: the units (speakers, or variants with
 * `holdOut: 'variant'`) are grouped by sex, female first; each group is shuffled in catalogue
 * order with mulberry32(seed) (Fisher-Yates, one generator for both groups); the first
 * round(15%) of each group go to test, the next round(15%) to validation, the rest to train. Each
 * split is then listed in catalogue order. Default 'voice': 80 female speakers give 12/12/56 and
 * 96 male 14/14/68, so 124 / 26 / 26 (train / validation / test). 'variant': 10 female variants
 * give 6/2/2 and 12 male 8/2/2, so 14 / 4 / 4 variants = 112 / 32 / 32 speakers.
 */
export function splitVoices(seed: number, holdOut: HoldOut = 'voice'): VoiceSplit {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`splitVoices: seed must be a whole number from 0 to 2^32 - 1, got ${seed}`);
  const order = new Map(VOICE_CATALOGUE.map((voice, index) => [voice.id, index]));
  const inCatalogueOrder = (voices: SpeakerVoice[]) => voices.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  const sexes: Sex[] = ['female', 'male'];
  let split: VoiceSplit;
  if (holdOut === 'voice') {
    split = splitGroups(sexes.map((sex) => VOICE_CATALOGUE.filter((voice) => voice.sex === sex)), seed);
  } else if (holdOut === 'variant') {
    const variants = splitGroups(sexes.map((sex) => VARIANTS.filter((variant) => variant.sex === sex).map((variant) => variant.id)), seed);
    const pick = (ids: string[]) => VOICE_CATALOGUE.filter((voice) => ids.includes(voice.variant));
    split = { train: pick(variants.train), validation: pick(variants.validation), test: pick(variants.test) };
  } else {
    throw new RangeError(`splitVoices: holdOut must be 'voice' or 'variant', got ${String(holdOut)}`);
  }
  return { train: inCatalogueOrder(split.train), validation: inCatalogueOrder(split.validation), test: inCatalogueOrder(split.test) };
}
