import type { BackendDriver } from './types.js';

/** Plain JavaScript kernels: slow, always there, and easy to step through in a debugger. */
export const cpuDriver: BackendDriver = {
  name: 'cpu',
  async probe() {
    return {
      name: 'cpu',
      available: true,
      reason: 'plain JavaScript, always available',
      adapter: `JavaScript (V8 ${process.versions.v8})`,
      hardware: false,
    };
  },
};
