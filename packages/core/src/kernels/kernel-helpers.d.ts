/**
 * Helpers that `Backend` registers with `gpu.addFunction` on every backend (see backend.ts).
 * Callable only inside kernel sources, which gpu.js compiles; declared globally so kernel files
 * call them without an import (an import would be rewritten into something gpu.js cannot trace).
 */
declare function floorDiv(a: number, d: number): number;
