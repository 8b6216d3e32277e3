// dns-packet's RR type table (CommonJS module without its own typings).
declare module 'dns-packet/types.js' {
  export function toType(name: string): number;
  export function toString(type: number): string;
}
