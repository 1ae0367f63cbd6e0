// @ishare/core/fuzz: the EROFS image fuzzer (mutations, checker, differential pass against upstream).
export * from '../fuzz/index.ts';
