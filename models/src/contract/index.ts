/**
 * What crosses between the server, the extension and the mode — request bodies, /info, the jobs API and its
 * result format, paths, plugin, command and tool names — defined once, with zod schemas where it is data.
 */
export * from './names.ts';
export * from './requests.ts';
export * from './jobs.ts';
export * from './info.ts';
