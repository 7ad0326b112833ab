/**
 * A thin, checked wrapper around one instance of eSpeak-NG compiled to JavaScript
 * (@echogarden/espeak-ng-emscripten, GPL-3.0).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import createEspeak, { type EspeakModule, type eSpeakNGWorker } from '@echogarden/espeak-ng-emscripten';

/** eSpeak-NG's output rate. */
export const ESPEAK_SAMPLE_RATE = 22050;

export const ESPEAK_PACKAGE = '@echogarden/espeak-ng-emscripten';

/** Where the package's data bundle mounts eSpeak's voice variants. */
const VARIANT_DIR = '/usr/share/espeak-ng-data/voices/!v';

/** The installed version of the eSpeak-NG package (recorded in dataset manifests). */
export function espeakVersion(): string {
  const require = createRequire(import.meta.url);
  const manifest = JSON.parse(readFileSync(require.resolve(`${ESPEAK_PACKAGE}/package.json`), 'utf8')) as { version: string };
  return manifest.version;
}

/** A language voice of eSpeak (one accent), as `list_voices` reports it. */
export interface VoiceInfo {
  /** What `speak` accepts before the `+variant`: the identifier's last part in lower case, e.g. 'en-us', 'en', 'en-gb-x-rp'. */
  id: string;
  /** e.g. 'English (America)'. */
  name: string;
  /** eSpeak's identifier, e.g. 'gmw/en-US'. */
  identifier: string;
  /** The language codes the voice serves, most preferred first. */
  languages: string[];
}

/** A voice variant (a timbre: pitch range, formants, Klatt synthesis ...) that can follow a voice as `+id`. */
export interface VariantInfo {
  /** e.g. 'f2', 'm3', 'klatt' (case-sensitive). */
  id: string;
  /** The variant file's `name` line, e.g. 'female2'. */
  name: string;
  /** The variant file's `gender` line without the age, e.g. 'female'; undefined where it has none. */
  gender: string | undefined;
}

export interface SpeakOptions {
  /** A voice id from `voices()` optionally followed by `+variant` from `variants()`, e.g. 'en-us+f2'. */
  voice: string;
  /** Words per minute, 80..450 (default 175, eSpeak's default). */
  rate?: number;
  /** Base pitch, 0..99 (default 50). */
  pitch?: number;
}

export interface Speech {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRate: typeof ESPEAK_SAMPLE_RATE;
}

export interface Synthesizer {
  readonly sampleRate: typeof ESPEAK_SAMPLE_RATE;
  /** The language voices of the data bundle (140 in version 0.3.5), in eSpeak's order. */
  voices(): VoiceInfo[];
  /** The voice variants of the data bundle (104 in version 0.3.5), sorted by id. */
  variants(): VariantInfo[];
  /** Synthesises `text`. Throws a RangeError naming the fix for unknown voices or variants and bad rates or pitches. */
  speak(text: string, options: SpeakOptions): Speech;
}

export interface SynthesizerOptions {
  /**
   * Seeds eSpeak's C `rand()` (default 0). eSpeak seeds it from the clock when it starts, and
   * variants with breath noise (f2, f3, f5, whisper ...) use it, so without a fixed seed their audio
   * would change from run to run. Whole number, 0..2^31 - 1.
   */
  seed?: number;
}

/**
 * Runs `body` with `Date.now` pinned. eSpeak reads the clock (through Emscripten's
 * `emscripten_date_now`) only to seed `rand()` with `time(NULL)` = Date.now() / 1000; the
 * synthesis itself is synchronous, so nothing else can observe the pinned clock.
 */
function withClock<T>(seconds: number, body: () => T): T {
  const now = Date.now;
  Date.now = () => seconds * 1000;
  try {
    return body();
  } finally {
    Date.now = now;
  }
}

function checkNumber(value: number, name: string, min: number, max: number, integer: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(`speak: ${name} must be a ${integer ? 'whole ' : ''}number from ${min} to ${max}, got ${String(value)}`);
  }
}

function readVariants(module: EspeakModule): VariantInfo[] {
  return module.FS.readdir(VARIANT_DIR)
    .filter((name) => !name.startsWith('.'))
    .map((id) => {
      const text = module.FS.readFile(`${VARIANT_DIR}/${id}`, { encoding: 'utf8' });
      const field = (key: string) => new RegExp(`^\\s*${key}\\s+(\\S+)`, 'm').exec(text)?.[1];
      return { id, name: field('name') ?? id, gender: field('gender')?.toLowerCase() };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Loads one eSpeak-NG instance (about 0.15 s; the data bundle is 24 MB) and wraps it. Calls on one
 * instance are synchronous and must not interleave; eSpeak keeps state between utterances (the
 * echo buffer, pitch flutter, `rand()`), so an utterance's exact samples depend on what the instance
 * said before. The same seed and the same sequence of calls give byte-identical audio.
 */
export async function createSynthesizer(options: SynthesizerOptions = {}): Promise<Synthesizer> {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0x7fffffff) throw new RangeError(`createSynthesizer: seed must be a whole number from 0 to 2^31 - 1, got ${seed}`);
  const module = await createEspeak();
  const worker: eSpeakNGWorker = withClock(seed, () => new module.eSpeakNGWorker());
  const rate = worker.get_samplerate();
  if (rate !== ESPEAK_SAMPLE_RATE) throw new Error(`eSpeak-NG reports a sample rate of ${rate} Hz, not ${ESPEAK_SAMPLE_RATE}; is ${ESPEAK_PACKAGE} the expected version?`);

  const voices: VoiceInfo[] = worker.list_voices().map((entry) => ({
    id: entry.identifier.slice(entry.identifier.lastIndexOf('/') + 1).toLowerCase(),
    name: entry.name,
    identifier: entry.identifier,
    languages: [...entry.languages].sort((a, b) => a.priority - b.priority).map((language) => language.name),
  }));
  const variants = readVariants(module);
  const variantIds = new Set(variants.map((variant) => variant.id));
  const voiceByKey = new Map<string, VoiceInfo>();
  for (const voice of voices) {
    for (const key of [voice.id, voice.identifier.toLowerCase(), voice.name.toLowerCase()]) if (!voiceByKey.has(key)) voiceByKey.set(key, voice);
  }
  const englishIds = voices.filter((voice) => voice.languages.some((language) => language === 'en' || language.startsWith('en-'))).map((voice) => voice.id);

  const unknownVoice = (base: string, voice: string): RangeError => {
    const lower = base.toLowerCase();
    // A language code that is not a voice name, such as 'en-gb': name the voice that serves it.
    const serving = voices
      .flatMap((candidate) => {
        const index = candidate.languages.indexOf(lower);
        return index < 0 ? [] : [{ candidate, index }];
      })
      .sort((a, b) => a.index - b.index)[0]?.candidate;
    const hint = serving ? `"${base}" is a language code, not a voice; its voice is "${serving.id}"` : `no voice is called "${base}"`;
    return new RangeError(
      `speak: unknown eSpeak voice "${voice}": ${hint}. Use a voice id (English: ${englishIds.join(', ')}; all: synthesizer.voices()), ` +
        `optionally followed by +variant (e.g. en-us+f2; all: synthesizer.variants())`,
    );
  };

  return {
    sampleRate: ESPEAK_SAMPLE_RATE,
    voices: () => voices.map((voice) => ({ ...voice, languages: [...voice.languages] })),
    variants: () => variants.map((variant) => ({ ...variant })),
    speak(text: string, speakOptions: SpeakOptions): Speech {
      if (typeof text !== 'string' || text.trim() === '') throw new RangeError('speak: text must be a non-empty string');
      const { voice } = speakOptions;
      if (typeof voice !== 'string' || voice === '') throw new RangeError('speak: voice must be a voice id such as "en-us" or "en-us+f2"; see synthesizer.voices()');
      const rateWpm = speakOptions.rate ?? 175;
      const pitch = speakOptions.pitch ?? 50;
      checkNumber(rateWpm, 'rate (words per minute)', 80, 450, false);
      checkNumber(pitch, 'pitch', 0, 99, true);
      const plus = voice.indexOf('+');
      const base = plus < 0 ? voice : voice.slice(0, plus);
      const variant = plus < 0 ? undefined : voice.slice(plus + 1);
      const info = voiceByKey.get(base.toLowerCase());
      if (!info) throw unknownVoice(base, voice);
      // eSpeak ignores an unknown variant without a word, so it is checked here (case-sensitively, as eSpeak looks it up).
      if (variant !== undefined && !variantIds.has(variant)) {
        const folded = variants.find((candidate) => candidate.id.toLowerCase() === variant.toLowerCase());
        throw new RangeError(
          `speak: unknown eSpeak voice variant "${variant}" in "${voice}"${folded ? `; variant names are case-sensitive: use "${folded.id}"` : ''}. ` +
            `Variants include m1..m8, f1..f5, klatt, croak (all: synthesizer.variants())`,
        );
      }
      const chunks: Int16Array[] = [];
      withClock(seed, () => {
        const status = worker.set_voice(variant === undefined ? info.identifier : `${info.identifier}+${variant}`);
        if (status !== 0) throw new Error(`speak: eSpeak could not load voice "${voice}" (status ${status})`);
        worker.set_rate(Math.round(rateWpm));
        worker.set_pitch(pitch);
        worker.synthesize(text, (samples) => {
          chunks.push(samples);
        });
      });
      let length = 0;
      for (const chunk of chunks) length += chunk.length;
      if (length === 0) throw new Error(`speak: eSpeak produced no audio for "${text}" with voice "${voice}"`);
      const samples = new Float32Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        for (let i = 0; i < chunk.length; i++) samples[offset + i] = chunk[i]! / 32768;
        offset += chunk.length;
      }
      return { samples, sampleRate: ESPEAK_SAMPLE_RATE };
    },
  };
}
