/** An error meant for the user: it names the option or file and says how to fix it. */
export class GeneratorError extends Error {
  override name = 'GeneratorError';
}
