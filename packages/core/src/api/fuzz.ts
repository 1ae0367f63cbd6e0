// @ishare/core/fuzz: the EROFS image fuzzer (mutations, checker, differential pass against upstream).
// The emitted .d.ts uses Node's types (Buffer, worker_threads, streams): this directive, kept in the
// emitted .d.ts, makes a consumer's compiler load @types/node without "types": ["node"] in its tsconfig
// (TypeScript 6+ loads no @types package by default).
/// <reference types="node" preserve="true" />
export * from '../fuzz/index.ts';
