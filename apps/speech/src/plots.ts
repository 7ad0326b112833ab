/** The spectrogram of an utterance with the model's CTC posteriors under it. */
import type { FeatureSettings, Utterance } from './data.js';
import type { LabelSet } from './labels.js';
import type { Transcription } from './pipeline.js';

export async function posteriorPlot(utterance: Pick<Utterance, 'features' | 'frames'>, transcription: Transcription, labels: LabelSet, features: FeatureSettings, title: string): Promise<string> {
  const { melBins } = features;
  const frames = Array.from({ length: utterance.frames }, (_, f) => utterance.features.subarray(f * melBins, (f + 1) * melBins));
  const logProbs = transcription.logProbs;
  if (!logProbs) throw new Error('posteriorPlot: transcribe with keepPosteriors');
  const C = labels.size;
  const posteriors = Array.from({ length: transcription.steps }, (_, t) => Array.from(logProbs.subarray(t * C, (t + 1) * C), Math.exp));
  // Loaded when a plot is asked for: Vega-Lite takes about half a second to load.
  const { spectrogram } = await import('@recurrent/plot');
  return spectrogram({
    spectrogram: frames, frameSeconds: features.hopMs / 1000, posteriors, stepSeconds: transcription.stepSeconds,
    labels: ['blank', ...labels.labels], spans: transcription.words, title,
  });
}
