export * from './config';
export * from './forward';
export * from './policy';
export * from './redact';
export * from './scope';
export * from './server';
