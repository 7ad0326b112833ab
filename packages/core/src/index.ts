export * from './backend/index.js';
export * from './kernels/index.js';
export * as reference from './reference/index.js';
export { gaussian, mulberry32 } from './random.js';
export * from './io/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export { measureMatmul, plainWhenPiped, runDoctor, type DoctorReport, type DoctorRow } from './cli/doctor.js';
export { formatShape, sameShape, shapeSize, ShapeError, Tensor, type Shape } from './tensor.js';
