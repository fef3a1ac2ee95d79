import pkg from '../package.json';

/** The mode's id (its package name). */
export const id: string = pkg.name;
