export type { KernelThis } from './common.js';
export { add, addBias, broadcastShapes, div, mul, planBinary, planUnary, relu, sigmoid, sub, tanh, BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from './elementwise.js';
export { gather, planGather, planScatterAdd, scatterAdd } from './gather.js';
export { matmul, planMatmul, type MatmulOptions, type MatmulPlan } from './matmul.js';
export { mean, planReduce, sum, type ReduceOptions } from './reduce.js';
export { logSoftmax, planNormalise, planRowLogOfQuarters, planRowMax, planRowMaxQuarters, planRowSumExpQuarters, rowLogSumExp, softmax } from './softmax.js';
export { ctcAlpha, ctcBeta, ctcGrad, CTC_NEG, CTC_TIME_CHUNK, planCtcAlpha, planCtcBeta, planCtcGrad, type CtcBuffers, type CtcShape } from './ctc.js';
