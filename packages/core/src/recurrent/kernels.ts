/**
 * The per-step kernels of a recurrent layer, forward and backward. Each is called once per time
 * step inside one `createPipeline` plan; the step index `t` is a plain argument that freezes into
 * the plan, so one compiled kernel serves every step and reads its slice of the sequence-wide
 * buffers at offset t.
 *
 * Shapes: B batch, H hidden, G gates (1 RNN, 3 GRU, 4 LSTM), GH = G*H, T steps.
 * Sequence-wide buffers are time-indexed: xProj [T, B, GH] (x W_ih^T + b_ih), mask [T, B]
 * (1 inside the sequence, 0 at padding), gatesAll [T, B, GH], states [T, B, H], dOut [T, B, H].
 * Gate rows follow PyTorch: LSTM i, f, g, o; GRU r, z, n.
 */
import type { KernelSpec } from '../backend/backend.js';
import type { KernelThis } from '../kernels/common.js';
import { kernelKey } from '../kernels/common.js';
import { GATES, type CellKind } from '../reference/recurrent.js';

/** Cell kinds as kernel constants. */
export const KIND_CODE: Readonly<Record<CellKind, number>> = { rnn_tanh: 0, rnn_relu: 1, gru: 2, lstm: 3 };

/**
 * The gates of step t, [B, GH]: the recurrent product h W_hh^T + b_hh fused with the input
 * projection and the gate nonlinearities. LSTM rows hold i, f, g, o after their activations;
 * GRU rows hold r and z after sigmoid and, in the n rows, the raw h W_hn^T + b_hn that the reset
 * gate multiplies. For the plain RNN the "gate" is the new state itself, padding rows keeping h.
 */
function gatesSource(
  this: KernelThis, xProj: Float32Array, h: Float32Array, whhT: Float32Array, bhh: Float32Array, mask: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.GH!);
  const row = cell - b * this.constants.GH!;
  let recurrent = bhh[row]!;
  // W_hh transposed, [H, GH]: neighbouring threads (rows) read neighbouring weights, one vector
  // load on webasm and coalesced reads on a GPU, where W_hh's own rows are H apart.
  for (let k = 0; k < this.constants.H!; k++) {
    recurrent += h[b * this.constants.H! + k]! * whhT[k * this.constants.GH! + row]!;
  }
  const pre = xProj[(t * this.constants.B! + b) * this.constants.GH! + row]! + recurrent;
  const gate = floorDiv(row, this.constants.H!);
  if (this.constants.kind === 3) {
    if (gate === 2) {
      return Math.tanh(pre);
    }
    return 1 / (1 + Math.exp(-pre));
  }
  if (this.constants.kind === 2) {
    if (gate === 2) {
      return recurrent;
    }
    return 1 / (1 + Math.exp(-pre));
  }
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return h[b * this.constants.H! + row]!;
  }
  if (this.constants.kind === 0) {
    return Math.tanh(pre);
  }
  return Math.max(pre, 0);
}

/**
 * `gatesSource` for four batch rows per thread (webasm, B a multiple of 4): thread (q, row)
 * returns gate row `row` of batch rows 4q..4q+3, so each weight loaded serves four products.
 * W_hh comes as column panels of W_hh^T (`columnPanels(W_hh, H, GH, true)`), so a vector of four
 * rows walks 16 contiguous bytes a step.
 * It reads the input projection as the packed product x W_ih^T leaves it (no unpacking pass;
 * tile width XC, see `projectionTile`) and adds b_ih itself, as the unpacked path's bias kernel does. Each
 * output sums the same values in the same order as `gatesSource`: the same bits. The result is
 * packed ([B/4, GH] cells of four); `unpackRowsSpec(B, GH)` restores [B, GH].
 */
function packedGatesSource(
  this: KernelThis, xwPacked: Float32Array, bih: Float32Array, h: Float32Array, whhPanels: Float32Array, bhh: Float32Array, mask: Float32Array, t: number,
): number[] {
  const cell = this.thread.x;
  const quad = floorDiv(cell, this.constants.GH!);
  const row = cell - quad * this.constants.GH!;
  const hBase = quad * 4 * this.constants.H!;
  const panel = floorDiv(row, 4);
  const wBase = panel * 4 * this.constants.H! + row - panel * 4;
  let recurrent0 = bhh[row]!;
  let recurrent1 = recurrent0;
  let recurrent2 = recurrent0;
  let recurrent3 = recurrent0;
  for (let k = 0; k < this.constants.H!; k++) {
    const w = whhPanels[wBase + k * 4]!;
    recurrent0 += h[hBase + k]! * w;
    recurrent1 += h[hBase + this.constants.H! + k]! * w;
    recurrent2 += h[hBase + 2 * this.constants.H! + k]! * w;
    recurrent3 += h[hBase + 3 * this.constants.H! + k]! * w;
  }
  const b0 = quad * 4;
  // rows t B + 4q .. + 3 of x W_ih^T, column `row`: four neighbouring values of one packed cell
  // (B is a multiple of 4), 4 XC values a cell; `row`'s place in it as matmul.ts's unpacking
  // kernel finds it
  const xGroup = floorDiv(row, 4 * this.constants.XC!);
  const xWithin = row - xGroup * 4 * this.constants.XC!;
  const xHalf = floorDiv(xWithin, 4);
  const x0 = (t * this.constants.B! + b0) * this.constants.GH! + (xGroup * 4 + xWithin - xHalf * 4) * 4 * this.constants.XC! + xHalf * 4;
  const bias = bih[row]!;
  const pre0 = (xwPacked[x0]! + bias) + recurrent0;
  const pre1 = (xwPacked[x0 + 1]! + bias) + recurrent1;
  const pre2 = (xwPacked[x0 + 2]! + bias) + recurrent2;
  const pre3 = (xwPacked[x0 + 3]! + bias) + recurrent3;
  const gate = floorDiv(row, this.constants.H!);
  if (this.constants.kind === 3) {
    if (gate === 2) {
      return [Math.tanh(pre0), Math.tanh(pre1), Math.tanh(pre2), Math.tanh(pre3)];
    }
    return [1 / (1 + Math.exp(-pre0)), 1 / (1 + Math.exp(-pre1)), 1 / (1 + Math.exp(-pre2)), 1 / (1 + Math.exp(-pre3))];
  }
  if (this.constants.kind === 2) {
    if (gate === 2) {
      return [recurrent0, recurrent1, recurrent2, recurrent3];
    }
    return [1 / (1 + Math.exp(-pre0)), 1 / (1 + Math.exp(-pre1)), 1 / (1 + Math.exp(-pre2)), 1 / (1 + Math.exp(-pre3))];
  }
  let out0 = Math.max(pre0, 0);
  let out1 = Math.max(pre1, 0);
  let out2 = Math.max(pre2, 0);
  let out3 = Math.max(pre3, 0);
  if (this.constants.kind === 0) {
    out0 = Math.tanh(pre0);
    out1 = Math.tanh(pre1);
    out2 = Math.tanh(pre2);
    out3 = Math.tanh(pre3);
  }
  // Padding rows keep h (the RNN's gate row is its hidden unit).
  const m0 = t * this.constants.B! + b0;
  if (mask[m0]! < 0.5) {
    out0 = h[hBase + row]!;
  }
  if (mask[m0 + 1]! < 0.5) {
    out1 = h[hBase + this.constants.H! + row]!;
  }
  if (mask[m0 + 2]! < 0.5) {
    out2 = h[hBase + 2 * this.constants.H! + row]!;
  }
  if (mask[m0 + 3]! < 0.5) {
    out3 = h[hBase + 3 * this.constants.H! + row]!;
  }
  return [out0, out1, out2, out3];
}

/** LSTM cell state of step t, [B, H]: c' = f c + i g, kept as c on padding rows. */
function lstmCellSource(this: KernelThis, gates: Float32Array, c: Float32Array, mask: Float32Array, t: number): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return c[cell]!;
  }
  const base = b * 4 * this.constants.H! + cell - b * this.constants.H!;
  return gates[base + this.constants.H!]! * c[cell]! + gates[base]! * gates[base + 2 * this.constants.H!]!;
}

/** LSTM hidden state of step t, [B, H]: h' = o tanh(c'), kept as h on padding rows. */
function lstmHiddenSource(this: KernelThis, gates: Float32Array, cNew: Float32Array, h: Float32Array, mask: Float32Array, t: number): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return h[cell]!;
  }
  const o = gates[b * 4 * this.constants.H! + cell - b * this.constants.H! + 3 * this.constants.H!]!;
  return o * Math.tanh(cNew[cell]!);
}

/** GRU hidden state of step t, [B, H]: n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h. */
function gruHiddenSource(this: KernelThis, gates: Float32Array, xProj: Float32Array, h: Float32Array, mask: Float32Array, t: number): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return h[cell]!;
  }
  const j = cell - b * this.constants.H!;
  const base = b * 3 * this.constants.H! + j;
  const r = gates[base]!;
  const z = gates[base + this.constants.H!]!;
  const n = Math.tanh(xProj[(t * this.constants.B! + b) * 3 * this.constants.H! + 2 * this.constants.H! + j]! + r * gates[base + 2 * this.constants.H!]!);
  return (1 - z) * n + z * h[cell]!;
}

/**
 * LSTM: gradient of the gates' pre-activations at step t, [B, 4H] (the same for the input and
 * the recurrent product). dh is the gradient reaching h_t from step t+1; dOut that of the output.
 */
function lstmGateGradSource(
  this: KernelThis, gatesAll: Float32Array, cPrevAll: Float32Array, cNewAll: Float32Array,
  dOut: Float32Array, dh: Float32Array, dc: Float32Array, mask: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.GH!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return 0;
  }
  const row = cell - b * this.constants.GH!;
  const gate = floorDiv(row, this.constants.H!);
  const j = row - gate * this.constants.H!;
  const k = b * this.constants.H! + j;
  const state = t * this.constants.B! * this.constants.H! + k;
  const base = t * this.constants.B! * this.constants.GH! + b * this.constants.GH! + j;
  const i = gatesAll[base]!;
  const f = gatesAll[base + this.constants.H!]!;
  const g = gatesAll[base + 2 * this.constants.H!]!;
  const o = gatesAll[base + 3 * this.constants.H!]!;
  const dhTotal = dh[k]! + dOut[state]!;
  const tanhC = Math.tanh(cNewAll[state]!);
  const dcTotal = dc[k]! + dhTotal * o * (1 - tanhC * tanhC);
  if (gate === 0) {
    return dcTotal * g * i * (1 - i);
  }
  if (gate === 1) {
    return dcTotal * cPrevAll[state]! * f * (1 - f);
  }
  if (gate === 2) {
    return dcTotal * i * (1 - g * g);
  }
  return dhTotal * tanhC * o * (1 - o);
}

/** LSTM: gradient reaching c_{t-1}, [B, H]: dc_total f, passed through on padding rows. */
function lstmCellGradSource(
  this: KernelThis, gatesAll: Float32Array, cNewAll: Float32Array, dOut: Float32Array, dh: Float32Array, dc: Float32Array,
  mask: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return dc[cell]!;
  }
  const state = t * this.constants.B! * this.constants.H! + cell;
  const base = t * this.constants.B! * 4 * this.constants.H! + b * 4 * this.constants.H! + cell - b * this.constants.H!;
  const f = gatesAll[base + this.constants.H!]!;
  const o = gatesAll[base + 3 * this.constants.H!]!;
  const tanhC = Math.tanh(cNewAll[state]!);
  return (dc[cell]! + (dh[cell]! + dOut[state]!) * o * (1 - tanhC * tanhC)) * f;
}

/**
 * GRU: gradient of the pre-activations at step t, [B, 3H]. `recurrent` = 0 gives that of
 * x W_ih^T + b_ih; 1 that of h W_hh^T + b_hh, which differs in the n rows by the reset factor r.
 */
function gruGateGradSource(
  this: KernelThis, gatesAll: Float32Array, hPrevAll: Float32Array, xProj: Float32Array, dOut: Float32Array, dh: Float32Array,
  mask: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.GH!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return 0;
  }
  const row = cell - b * this.constants.GH!;
  const gate = floorDiv(row, this.constants.H!);
  const j = row - gate * this.constants.H!;
  const state = t * this.constants.B! * this.constants.H! + b * this.constants.H! + j;
  const base = t * this.constants.B! * this.constants.GH! + b * this.constants.GH! + j;
  const r = gatesAll[base]!;
  const z = gatesAll[base + this.constants.H!]!;
  const hn = gatesAll[base + 2 * this.constants.H!]!;
  const n = Math.tanh(xProj[base + 2 * this.constants.H!]! + r * hn);
  const dhTotal = dh[b * this.constants.H! + j]! + dOut[state]!;
  const dn = dhTotal * (1 - z) * (1 - n * n);
  if (gate === 0) {
    return dn * hn * r * (1 - r);
  }
  if (gate === 1) {
    return dhTotal * (hPrevAll[state]! - n) * z * (1 - z);
  }
  if (this.constants.recurrent === 1) {
    return dn * r;
  }
  return dn;
}

/** Plain RNN: gradient of the pre-activation at step t, [B, H], from the new state h_t. */
function rnnGateGradSource(this: KernelThis, hNewAll: Float32Array, dOut: Float32Array, dh: Float32Array, mask: Float32Array, t: number): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return 0;
  }
  const state = t * this.constants.B! * this.constants.H! + cell;
  const dhTotal = dh[cell]! + dOut[state]!;
  const hNew = hNewAll[state]!;
  if (this.constants.kind === 0) {
    return dhTotal * (1 - hNew * hNew);
  }
  if (hNew > 0) {
    return dhTotal;
  }
  return 0;
}

/**
 * Gradient reaching h_{t-1}, [B, H]: dGh W_hh (plus dh_t z for the GRU, whose new state mixes the
 * old one in directly); passed through unchanged on padding rows.
 */
function hiddenGradSource(
  this: KernelThis, dGh: Float32Array, whh: Float32Array, gatesAll: Float32Array, dOut: Float32Array, dh: Float32Array,
  mask: Float32Array, t: number,
): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return dh[cell]!;
  }
  const j = cell - b * this.constants.H!;
  let sum = 0;
  for (let row = 0; row < this.constants.GH!; row++) {
    sum += dGh[b * this.constants.GH! + row]! * whh[row * this.constants.H! + j]!;
  }
  if (this.constants.kind === 2) {
    const z = gatesAll[t * this.constants.B! * this.constants.GH! + b * this.constants.GH! + this.constants.H! + j]!;
    return sum + (dh[cell]! + dOut[t * this.constants.B! * this.constants.H! + cell]!) * z;
  }
  return sum;
}

/**
 * Recurrent dropout (Keras's `recurrent_dropout`): the state a step reads, [B, H], h m inside the
 * sequence (m: the direction's mask [B, H], one per sequence and unit, the same every step), h as
 * it is on padding rows, which keep their state unmasked. Backward, the same kernel takes the
 * gradient reaching that read state back to h itself.
 */
function stateMaskSource(this: KernelThis, h: Float32Array, keep: Float32Array, mask: Float32Array, t: number): number {
  const cell = this.thread.x;
  const b = floorDiv(cell, this.constants.H!);
  if (mask[t * this.constants.B! + b]! < 0.5) {
    return h[cell]!;
  }
  return h[cell]! * keep[cell]!;
}

/**
 * `packedGatesSource` for LSTM and GRU layers with H a multiple of 8, with a 4 x 2 tile: thread
 * (q, c) returns gate rows n and n + 4 (n = 8 (c div 4) + c mod 4, two neighbouring column
 * panels, one gate) of batch rows 4q..4q+3, so each h value loaded serves two products and each
 * weight vector four: 6 loads per 8 vector multiply-adds, against 5 per 4. The same sums in the
 * same order: the same bits, packed as matmul.ts's wide product (`unpackRowsSpec(B, GH, false, 2)`).
 * Reads x W_ih^T packed with the same tile (XC = 2, see `projectionTile`).
 */
function packedGatesWideSource(
  this: KernelThis, xwPacked: Float32Array, bih: Float32Array, h: Float32Array, whhPanels: Float32Array, bhh: Float32Array, mask: Float32Array, t: number,
): number[] {
  const cell = this.thread.x;
  const quad = floorDiv(cell, this.constants.GH2!);
  const c = cell - quad * this.constants.GH2!;
  const pair = floorDiv(c, 4);
  const row = pair * 8 + c - pair * 4;
  const hBase = quad * 4 * this.constants.H!;
  // row + 4 lies in the next panel, 4 H values on
  const wBase = pair * 8 * this.constants.H! + c - pair * 4;
  let r00 = bhh[row]!;
  let r10 = r00;
  let r20 = r00;
  let r30 = r00;
  let r01 = bhh[row + 4]!;
  let r11 = r01;
  let r21 = r01;
  let r31 = r01;
  for (let k = 0; k < this.constants.H!; k++) {
    const w0 = whhPanels[wBase + k * 4]!;
    const w1 = whhPanels[wBase + 4 * this.constants.H! + k * 4]!;
    const h0 = h[hBase + k]!;
    r00 += h0 * w0;
    r01 += h0 * w1;
    const h1 = h[hBase + this.constants.H! + k]!;
    r10 += h1 * w0;
    r11 += h1 * w1;
    const h2 = h[hBase + 2 * this.constants.H! + k]!;
    r20 += h2 * w0;
    r21 += h2 * w1;
    const h3 = h[hBase + 3 * this.constants.H! + k]!;
    r30 += h3 * w0;
    r31 += h3 * w1;
  }
  // rows t B + 4q .. + 3 of x W_ih^T: columns `row` and row + 4 are one packed cell of the wide tile
  const x0 = (t * this.constants.B! + quad * 4) * this.constants.GH! + c * 8;
  const bias0 = bih[row]!;
  const bias1 = bih[row + 4]!;
  const p00 = (xwPacked[x0]! + bias0) + r00;
  const p10 = (xwPacked[x0 + 1]! + bias0) + r10;
  const p20 = (xwPacked[x0 + 2]! + bias0) + r20;
  const p30 = (xwPacked[x0 + 3]! + bias0) + r30;
  const p01 = (xwPacked[x0 + 4]! + bias1) + r01;
  const p11 = (xwPacked[x0 + 5]! + bias1) + r11;
  const p21 = (xwPacked[x0 + 6]! + bias1) + r21;
  const p31 = (xwPacked[x0 + 7]! + bias1) + r31;
  const gate = floorDiv(row, this.constants.H!);
  if (gate === 2) {
    if (this.constants.kind === 3) {
      return [Math.tanh(p00), Math.tanh(p10), Math.tanh(p20), Math.tanh(p30), Math.tanh(p01), Math.tanh(p11), Math.tanh(p21), Math.tanh(p31)];
    }
    // the GRU's n gate keeps its recurrent part (r multiplies it in the hidden kernel)
    return [r00, r10, r20, r30, r01, r11, r21, r31];
  }
  return [
    1 / (1 + Math.exp(-p00)), 1 / (1 + Math.exp(-p10)), 1 / (1 + Math.exp(-p20)), 1 / (1 + Math.exp(-p30)),
    1 / (1 + Math.exp(-p01)), 1 / (1 + Math.exp(-p11)), 1 / (1 + Math.exp(-p21)), 1 / (1 + Math.exp(-p31)),
  ];
}

/**
 * `hiddenGradSource` for four batch rows per thread (webasm, B a multiple of 4): thread (q, j)
 * returns unit j of batch rows 4q..4q+3, each W_hh value loaded serving four products; the same
 * bits as `hiddenGradSource`. W_hh comes as column panels (`columnPanels(W_hh, GH, H)`). Packed
 * like `packedGatesSource`: `unpackRowsSpec(B, H)` restores [B, H].
 */
function packedHiddenGradSource(
  this: KernelThis, dGh: Float32Array, whhPanels: Float32Array, gatesAll: Float32Array, dOut: Float32Array, dh: Float32Array,
  mask: Float32Array, t: number,
): number[] {
  const cell = this.thread.x;
  const quad = floorDiv(cell, this.constants.H!);
  const j = cell - quad * this.constants.H!;
  const gBase = quad * 4 * this.constants.GH!;
  const panel = floorDiv(j, 4);
  const wBase = panel * 4 * this.constants.GH! + j - panel * 4;
  let sum0 = 0;
  let sum1 = 0;
  let sum2 = 0;
  let sum3 = 0;
  for (let row = 0; row < this.constants.GH!; row++) {
    const w = whhPanels[wBase + row * 4]!;
    sum0 += dGh[gBase + row]! * w;
    sum1 += dGh[gBase + this.constants.GH! + row]! * w;
    sum2 += dGh[gBase + 2 * this.constants.GH! + row]! * w;
    sum3 += dGh[gBase + 3 * this.constants.GH! + row]! * w;
  }
  const b0 = quad * 4;
  const cell0 = b0 * this.constants.H! + j;
  const cell1 = cell0 + this.constants.H!;
  const cell2 = cell0 + 2 * this.constants.H!;
  const cell3 = cell0 + 3 * this.constants.H!;
  if (this.constants.kind === 2) {
    // The GRU's new state mixes the old one in directly: + dh_t z.
    const zBase = t * this.constants.B! * this.constants.GH! + gBase + this.constants.H! + j;
    const out = t * this.constants.B! * this.constants.H!;
    sum0 = sum0 + (dh[cell0]! + dOut[out + cell0]!) * gatesAll[zBase]!;
    sum1 = sum1 + (dh[cell1]! + dOut[out + cell1]!) * gatesAll[zBase + this.constants.GH!]!;
    sum2 = sum2 + (dh[cell2]! + dOut[out + cell2]!) * gatesAll[zBase + 2 * this.constants.GH!]!;
    sum3 = sum3 + (dh[cell3]! + dOut[out + cell3]!) * gatesAll[zBase + 3 * this.constants.GH!]!;
  }
  const m0 = t * this.constants.B! + b0;
  if (mask[m0]! < 0.5) {
    sum0 = dh[cell0]!;
  }
  if (mask[m0 + 1]! < 0.5) {
    sum1 = dh[cell1]!;
  }
  if (mask[m0 + 2]! < 0.5) {
    sum2 = dh[cell2]!;
  }
  if (mask[m0 + 3]! < 0.5) {
    sum3 = dh[cell3]!;
  }
  return [sum0, sum1, sum2, sum3];
}

/**
 * `packedHiddenGradSource` with a 4 x 2 tile (H a multiple of 8): thread (q, c) returns units j
 * and j + 4 (j = 8 (c div 4) + c mod 4, two neighbouring column panels) of batch rows 4q..4q+3,
 * each dGh value loaded serving two products and each weight vector four. The same bits, packed
 * as matmul.ts's wide product: `unpackRowsSpec(B, H, false, 2)` restores [B, H].
 */
function packedHiddenGradWideSource(
  this: KernelThis, dGh: Float32Array, whhPanels: Float32Array, gatesAll: Float32Array, dOut: Float32Array, dh: Float32Array,
  mask: Float32Array, t: number,
): number[] {
  const cell = this.thread.x;
  const quad = floorDiv(cell, this.constants.H2!);
  const c = cell - quad * this.constants.H2!;
  const pair = floorDiv(c, 4);
  const j = pair * 8 + c - pair * 4;
  const gBase = quad * 4 * this.constants.GH!;
  // unit j + 4 lies in the next panel, 4 GH values on
  const wBase = pair * 8 * this.constants.GH! + c - pair * 4;
  let s00 = 0;
  let s10 = 0;
  let s20 = 0;
  let s30 = 0;
  let s01 = 0;
  let s11 = 0;
  let s21 = 0;
  let s31 = 0;
  for (let row = 0; row < this.constants.GH!; row++) {
    const w0 = whhPanels[wBase + row * 4]!;
    const w1 = whhPanels[wBase + 4 * this.constants.GH! + row * 4]!;
    const d0 = dGh[gBase + row]!;
    s00 += d0 * w0;
    s01 += d0 * w1;
    const d1 = dGh[gBase + this.constants.GH! + row]!;
    s10 += d1 * w0;
    s11 += d1 * w1;
    const d2 = dGh[gBase + 2 * this.constants.GH! + row]!;
    s20 += d2 * w0;
    s21 += d2 * w1;
    const d3 = dGh[gBase + 3 * this.constants.GH! + row]!;
    s30 += d3 * w0;
    s31 += d3 * w1;
  }
  const b0 = quad * 4;
  const cell0 = b0 * this.constants.H! + j;
  const cell1 = cell0 + this.constants.H!;
  const cell2 = cell0 + 2 * this.constants.H!;
  const cell3 = cell0 + 3 * this.constants.H!;
  if (this.constants.kind === 2) {
    // The GRU's new state mixes the old one in directly: + dh_t z.
    const zBase = t * this.constants.B! * this.constants.GH! + gBase + this.constants.H! + j;
    const out = t * this.constants.B! * this.constants.H!;
    s00 = s00 + (dh[cell0]! + dOut[out + cell0]!) * gatesAll[zBase]!;
    s10 = s10 + (dh[cell1]! + dOut[out + cell1]!) * gatesAll[zBase + this.constants.GH!]!;
    s20 = s20 + (dh[cell2]! + dOut[out + cell2]!) * gatesAll[zBase + 2 * this.constants.GH!]!;
    s30 = s30 + (dh[cell3]! + dOut[out + cell3]!) * gatesAll[zBase + 3 * this.constants.GH!]!;
    s01 = s01 + (dh[cell0 + 4]! + dOut[out + cell0 + 4]!) * gatesAll[zBase + 4]!;
    s11 = s11 + (dh[cell1 + 4]! + dOut[out + cell1 + 4]!) * gatesAll[zBase + this.constants.GH! + 4]!;
    s21 = s21 + (dh[cell2 + 4]! + dOut[out + cell2 + 4]!) * gatesAll[zBase + 2 * this.constants.GH! + 4]!;
    s31 = s31 + (dh[cell3 + 4]! + dOut[out + cell3 + 4]!) * gatesAll[zBase + 3 * this.constants.GH! + 4]!;
  }
  const m0 = t * this.constants.B! + b0;
  if (mask[m0]! < 0.5) {
    s00 = dh[cell0]!;
    s01 = dh[cell0 + 4]!;
  }
  if (mask[m0 + 1]! < 0.5) {
    s10 = dh[cell1]!;
    s11 = dh[cell1 + 4]!;
  }
  if (mask[m0 + 2]! < 0.5) {
    s20 = dh[cell2]!;
    s21 = dh[cell2 + 4]!;
  }
  if (mask[m0 + 3]! < 0.5) {
    s30 = dh[cell3]!;
    s31 = dh[cell3 + 4]!;
  }
  return [s00, s10, s20, s30, s01, s11, s21, s31];
}

/**
 * A whole LSTM step for inference (no trace kept), webasm: thread (p, j) computes unit j of batch
 * rows 2p and 2p + 1, all four gates, so each h value loaded serves four gate rows and each
 * weight vector two batch rows (6 loads per 32 multiply-adds, against 5 per 16 in
 * `packedGatesSource`), and the step is one kernel instead of four (gates, unpacking, c, h). The
 * state travels as four planes of [B/2, H] (`planarComponents`): c of the even rows, h of the even
 * rows, c of the odd rows, h of the odd rows, in and out (`planarState`), so that each row's h
 * is contiguous for the host to copy out. Each value is computed as in `packedGatesSource`,
 * `lstmCellSource` and `lstmHiddenSource`, in the same order: the same bits. W_hh comes as column panels of W_hh^T;
 * x W_ih^T as the packed product leaves it (tile width XC, see `projectionTile`).
 */
function lstmInferenceStepSource(
  this: KernelThis, xwPacked: Float32Array, bih: Float32Array, hc: Float32Array, whhPanels: Float32Array, bhh: Float32Array, mask: Float32Array, t: number,
): number[] {
  const cell = this.thread.x;
  const pair = floorDiv(cell, this.constants.H!);
  const j = cell - pair * this.constants.H!;
  const panel = floorDiv(j, 4);
  const wBase = panel * 4 * this.constants.H! + j - panel * 4;
  const hBase = pair * this.constants.H!; // in each plane of CELLS = B H / 2 values
  let i0 = bhh[j]!;
  let f0 = bhh[this.constants.H! + j]!;
  let g0 = bhh[2 * this.constants.H! + j]!;
  let o0 = bhh[3 * this.constants.H! + j]!;
  let i1 = i0;
  let f1 = f0;
  let g1 = g0;
  let o1 = o0;
  for (let k = 0; k < this.constants.H!; k++) {
    const h0 = hc[this.constants.CELLS! + hBase + k]!;
    const h1 = hc[3 * this.constants.CELLS! + hBase + k]!;
    // gate g's row g H + j lies HH = H^2 values further into the panels
    const wi = whhPanels[wBase + k * 4]!;
    const wf = whhPanels[wBase + this.constants.HH! + k * 4]!;
    const wg = whhPanels[wBase + 2 * this.constants.HH! + k * 4]!;
    const wo = whhPanels[wBase + 3 * this.constants.HH! + k * 4]!;
    i0 += h0 * wi;
    f0 += h0 * wf;
    g0 += h0 * wg;
    o0 += h0 * wo;
    i1 += h1 * wi;
    f1 += h1 * wf;
    g1 += h1 * wg;
    o1 += h1 * wo;
  }
  // rows t B + 2p and + 1 of x W_ih^T: one packed cell (B is a multiple of 4), lanes 2 (p mod 2), + 1
  // of column j; gate g's column g H + j lies 4 g H values further on in either tile width (H is
  // a multiple of 8 where XC = 2)
  const quad = floorDiv(pair, 2);
  const xGroup = floorDiv(j, 4 * this.constants.XC!);
  const xWithin = j - xGroup * 4 * this.constants.XC!;
  const xHalf = floorDiv(xWithin, 4);
  const x0 = (t * this.constants.Bq! + quad) * this.constants.GH! * 4 + (xGroup * 4 + xWithin - xHalf * 4) * 4 * this.constants.XC! + xHalf * 4 + (pair - quad * 2) * 2;
  const pi0 = (xwPacked[x0]! + bih[j]!) + i0;
  const pf0 = (xwPacked[x0 + 4 * this.constants.H!]! + bih[this.constants.H! + j]!) + f0;
  const pg0 = (xwPacked[x0 + 8 * this.constants.H!]! + bih[2 * this.constants.H! + j]!) + g0;
  const po0 = (xwPacked[x0 + 12 * this.constants.H!]! + bih[3 * this.constants.H! + j]!) + o0;
  const pi1 = (xwPacked[x0 + 1]! + bih[j]!) + i1;
  const pf1 = (xwPacked[x0 + 1 + 4 * this.constants.H!]! + bih[this.constants.H! + j]!) + f1;
  const pg1 = (xwPacked[x0 + 1 + 8 * this.constants.H!]! + bih[2 * this.constants.H! + j]!) + g1;
  const po1 = (xwPacked[x0 + 1 + 12 * this.constants.H!]! + bih[3 * this.constants.H! + j]!) + o1;
  const cPrev0 = hc[hBase + j]!;
  const hPrev0 = hc[this.constants.CELLS! + hBase + j]!;
  const cPrev1 = hc[2 * this.constants.CELLS! + hBase + j]!;
  const hPrev1 = hc[3 * this.constants.CELLS! + hBase + j]!;
  let c0 = (1 / (1 + Math.exp(-pf0))) * cPrev0 + (1 / (1 + Math.exp(-pi0))) * Math.tanh(pg0);
  let hNew0 = (1 / (1 + Math.exp(-po0))) * Math.tanh(c0);
  let c1 = (1 / (1 + Math.exp(-pf1))) * cPrev1 + (1 / (1 + Math.exp(-pi1))) * Math.tanh(pg1);
  let hNew1 = (1 / (1 + Math.exp(-po1))) * Math.tanh(c1);
  // Padding rows keep their state.
  const m0 = t * this.constants.B! + pair * 2;
  if (mask[m0]! < 0.5) {
    c0 = cPrev0;
    hNew0 = hPrev0;
  }
  if (mask[m0 + 1]! < 0.5) {
    c1 = cPrev1;
    hNew1 = hPrev1;
  }
  return [c0, hNew0, c1, hNew1];
}

/**
 * `lstmInferenceStepSource` for the GRU: thread (p, j) computes unit j of batch rows 2p and 2p + 1,
 * its three recurrent sums (r, z and the n row's h W_hn^T + b_hn) and the new state, in one
 * kernel instead of three (gates, x W_ih^T + b_ih unpacked, h). The state keeps the LSTM's four
 * planes, h standing in the c planes too, so the host reads it as the LSTM's (`stateRows`). Each
 * value is computed as in `packedGatesSource` and `gruHiddenSource`, in the same order: the same bits.
 */
function gruInferenceStepSource(
  this: KernelThis, xwPacked: Float32Array, bih: Float32Array, hc: Float32Array, whhPanels: Float32Array, bhh: Float32Array, mask: Float32Array, t: number,
): number[] {
  const cell = this.thread.x;
  const pair = floorDiv(cell, this.constants.H!);
  const j = cell - pair * this.constants.H!;
  const panel = floorDiv(j, 4);
  const wBase = panel * 4 * this.constants.H! + j - panel * 4;
  const hBase = pair * this.constants.H!;
  let r0 = bhh[j]!;
  let z0 = bhh[this.constants.H! + j]!;
  let n0 = bhh[2 * this.constants.H! + j]!;
  let r1 = r0;
  let z1 = z0;
  let n1 = n0;
  for (let k = 0; k < this.constants.H!; k++) {
    const h0 = hc[this.constants.CELLS! + hBase + k]!;
    const h1 = hc[3 * this.constants.CELLS! + hBase + k]!;
    const wr = whhPanels[wBase + k * 4]!;
    const wz = whhPanels[wBase + this.constants.HH! + k * 4]!;
    const wn = whhPanels[wBase + 2 * this.constants.HH! + k * 4]!;
    r0 += h0 * wr;
    z0 += h0 * wz;
    n0 += h0 * wn;
    r1 += h1 * wr;
    z1 += h1 * wz;
    n1 += h1 * wn;
  }
  // x W_ih^T as lstmInferenceStepSource finds it
  const quad = floorDiv(pair, 2);
  const xGroup = floorDiv(j, 4 * this.constants.XC!);
  const xWithin = j - xGroup * 4 * this.constants.XC!;
  const xHalf = floorDiv(xWithin, 4);
  const x0 = (t * this.constants.Bq! + quad) * this.constants.GH! * 4 + (xGroup * 4 + xWithin - xHalf * 4) * 4 * this.constants.XC! + xHalf * 4 + (pair - quad * 2) * 2;
  const reset0 = 1 / (1 + Math.exp(-((xwPacked[x0]! + bih[j]!) + r0)));
  const update0 = 1 / (1 + Math.exp(-((xwPacked[x0 + 4 * this.constants.H!]! + bih[this.constants.H! + j]!) + z0)));
  const reset1 = 1 / (1 + Math.exp(-((xwPacked[x0 + 1]! + bih[j]!) + r1)));
  const update1 = 1 / (1 + Math.exp(-((xwPacked[x0 + 1 + 4 * this.constants.H!]! + bih[this.constants.H! + j]!) + z1)));
  const hPrev0 = hc[this.constants.CELLS! + hBase + j]!;
  const hPrev1 = hc[3 * this.constants.CELLS! + hBase + j]!;
  const candidate0 = Math.tanh((xwPacked[x0 + 8 * this.constants.H!]! + bih[2 * this.constants.H! + j]!) + reset0 * n0);
  const candidate1 = Math.tanh((xwPacked[x0 + 1 + 8 * this.constants.H!]! + bih[2 * this.constants.H! + j]!) + reset1 * n1);
  let hNew0 = (1 - update0) * candidate0 + update0 * hPrev0;
  let hNew1 = (1 - update1) * candidate1 + update1 * hPrev1;
  // Padding rows keep their state.
  const m0 = t * this.constants.B! + pair * 2;
  if (mask[m0]! < 0.5) {
    hNew0 = hPrev0;
  }
  if (mask[m0 + 1]! < 0.5) {
    hNew1 = hPrev1;
  }
  return [hNew0, hNew0, hNew1, hNew1];
}

export interface StepShape {
  readonly kind: CellKind;
  readonly steps: number;
  readonly batch: number;
  readonly hidden: number;
}

function spec(name: string, source: KernelSpec['source'], outputSize: number, shape: StepShape, extra: Record<string, number> = {}): KernelSpec {
  const G = GATES[shape.kind];
  const constants = { kind: KIND_CODE[shape.kind], B: shape.batch, H: shape.hidden, GH: G * shape.hidden, ...extra };
  // Every step kernel computes a batch row (or four) from the same rows of the step before: in
  // blocks of four rows, a pipeline's steps need no barriers between them (see localBlocks).
  const localBlocks = shape.batch % 4 === 0 ? { localBlocks: shape.batch / 4 } : {};
  return { key: kernelKey(name, { ...constants, T: shape.steps }), source, outputSize, constants, ...localBlocks };
}

/**
 * Whether a layer of this batch runs the four-rows-per-thread kernels: only the fused webasm
 * pipeline reads their packed results (see `KernelSpec.returnType`), and rows come in fours.
 */
export function usesPackedSteps(backendName: string, batch: number): boolean {
  return backendName === 'webasm' && batch % 4 === 0;
}

/**
 * The tile width of the packed input projection x W_ih^T (see matmul.ts): 2 (four rows of two
 * column panels a thread, `packedMatmulSpec(..., true)`) where H is a multiple of 8, so that each
 * gate's block of columns starts a tile, else 1.
 */
export function projectionTile(hidden: number): 1 | 2 {
  return hidden % 8 === 0 ? 2 : 1;
}

/** Whether a packed layer's gates run `packedGatesWideSource`. */
export function usesWideGates(kind: CellKind, hidden: number): boolean {
  return (kind === 'lstm' || kind === 'gru') && projectionTile(hidden) === 2;
}

/**
 * Whether an LSTM or GRU forward pass without a trace runs `lstmInferenceStepSource` or
 * `gruInferenceStepSource` (see `planarState`).
 */
export function usesFusedInference(backendName: string, kind: CellKind, batch: number, hidden: number, trace: boolean): boolean {
  return !trace && (kind === 'lstm' || kind === 'gru') && usesPackedSteps(backendName, batch) && hidden % 4 === 0;
}

/**
 * Where row b's c (part 0) or h (part 1) starts in the state of `lstmInferenceStepSource`: four
 * planes of [B/2, H], c and h of the even rows, then of the odd rows; H values from there.
 */
export function stateRowOffset(b: number, B: number, H: number, part: 0 | 1): number {
  return (2 * (b & 1) + part) * (B / 2) * H + (b >> 1) * H;
}

/** h and c, [B, H] each, as `lstmInferenceStepSource` keeps them (see `stateRowOffset`). */
export function planarState(h: Float32Array, c: Float32Array, B: number, H: number): Float32Array {
  const out = new Float32Array(2 * B * H);
  for (let b = 0; b < B; b++) {
    out.set(c.subarray(b * H, (b + 1) * H), stateRowOffset(b, B, H, 0));
    out.set(h.subarray(b * H, (b + 1) * H), stateRowOffset(b, B, H, 1));
  }
  return out;
}

/** h (part 1) or c (part 0), [B, H], out of a state laid out as `planarState` lays it. */
export function stateRows(states: Float32Array, B: number, H: number, part: 0 | 1): Float32Array {
  const out = new Float32Array(B * H);
  for (let b = 0; b < B; b++) {
    const at = stateRowOffset(b, B, H, part);
    out.set(states.subarray(at, at + H), b * H);
  }
  return out;
}

/** Every step kernel a layer of this shape needs, as specs for `Backend.kernel`. */
export function stepKernelSpecs(shape: StepShape) {
  const BH = shape.batch * shape.hidden;
  const BGH = BH * GATES[shape.kind];
  return {
    gates: spec('recurrentGates', gatesSource, BGH, shape),
    lstmCell: spec('lstmCell', lstmCellSource, BH, shape),
    lstmHidden: spec('lstmHidden', lstmHiddenSource, BH, shape),
    gruHidden: spec('gruHidden', gruHiddenSource, BH, shape),
    lstmGateGrad: spec('lstmGateGrad', lstmGateGradSource, BGH, shape),
    lstmCellGrad: spec('lstmCellGrad', lstmCellGradSource, BH, shape),
    gruInputGateGrad: spec('gruGateGrad', gruGateGradSource, BGH, shape, { recurrent: 0 }),
    gruRecurrentGateGrad: spec('gruGateGrad', gruGateGradSource, BGH, shape, { recurrent: 1 }),
    rnnGateGrad: spec('rnnGateGrad', rnnGateGradSource, BH, shape),
    hiddenGrad: spec('hiddenGrad', hiddenGradSource, BH, shape),
    stateMask: spec('stateMask', stateMaskSource, BH, shape),
    // Four batch rows per thread, packed; each followed by its unpackRowsSpec (see usesPackedSteps).
    packedGates: { ...spec('packedGates', packedGatesSource, BGH / 4, shape, { XC: projectionTile(shape.hidden) }), returnType: 'Array(4)' as const },
    // The same with a 4 x 2 tile: LSTM and GRU with H a multiple of 8 (see usesWideGates).
    packedGatesWide: { ...spec('packedGatesWide', packedGatesWideSource, BGH / 8, shape, { GH2: BGH / shape.batch / 2 }), returnType: 'Array(8)' as const },
    packedHiddenGrad: { ...spec('packedHiddenGrad', packedHiddenGradSource, BH / 4, shape), returnType: 'Array(4)' as const },
    // The same with a 4 x 2 tile where H is a multiple of 8 (projectionTile).
    packedHiddenGradWide: { ...spec('packedHiddenGradWide', packedHiddenGradWideSource, BH / 8, shape, { H2: shape.hidden / 2 }), returnType: 'Array(8)' as const },
    // Two batch rows per thread, (c, h) of each (the GRU: h twice); see usesFusedInference. A
    // thread reads only its own pair's state: blocks of one pair.
    inferenceStep: {
      ...(shape.kind === 'gru'
        ? spec('gruInferenceStep', gruInferenceStepSource, BH / 2, shape, { HH: shape.hidden * shape.hidden, Bq: shape.batch / 4, XC: projectionTile(shape.hidden), CELLS: BH / 2 })
        : spec('lstmInferenceStep', lstmInferenceStepSource, BH / 2, shape, { HH: shape.hidden * shape.hidden, Bq: shape.batch / 4, XC: projectionTile(shape.hidden), CELLS: BH / 2 })),
      returnType: 'Array(4)' as const,
      planarComponents: true,
      localBlocks: shape.batch / 2,
    },
  };
}
