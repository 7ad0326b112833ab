// @echogarden/espeak-ng-emscripten ships as an ES module without types; these are the parts used here.
declare module '@echogarden/espeak-ng-emscripten' {
  export interface EspeakEvent {
    type: string;
    text_position: number;
    word_length: number;
    audio_position: number;
    id: number | string | undefined;
  }

  export interface EspeakVoiceEntry {
    /** e.g. 'English (America)'. */
    name: string;
    /** e.g. 'gmw/en-US'. */
    identifier: string;
    languages: Array<{ priority: number; name: string }>;
  }

  export class eSpeakNGWorker {
    constructor();
    /** 0 on success, non-zero (2: not found) otherwise. Unknown `+variant` suffixes are silently ignored. */
    set_voice(name: string): number;
    set_rate(wordsPerMinute: number): number;
    set_pitch(pitch: number): number;
    get_samplerate(): number;
    list_voices(): EspeakVoiceEntry[];
    /** Calls `callback` once per audio chunk (16-bit samples); returning true aborts the synthesis. */
    synthesize(text: string, callback: (samples: Int16Array, events: EspeakEvent[]) => boolean | void): void;
  }

  export interface EspeakFS {
    readdir(path: string): string[];
    readFile(path: string, options: { encoding: 'utf8' }): string;
  }

  export interface EspeakModule {
    eSpeakNGWorker: typeof eSpeakNGWorker;
    FS: EspeakFS;
    destroy(object: unknown): void;
  }

  const factory: (moduleArg?: Record<string, unknown>) => Promise<EspeakModule>;
  export default factory;
}
