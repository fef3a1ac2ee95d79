import pkg from '../package.json';

/** The extension's id (its package name); OHIF addresses its modules as `<id>.<moduleType>.<name>`. */
export const id: string = pkg.name;
/** The panel's name: the mode lists it as `<id>.panelModule.<PANEL_NAME>`. */
export const PANEL_NAME = 'vista3d';
