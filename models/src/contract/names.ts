/**
 * Names and paths shared by the server, the extension and the mode (no dependencies: the mode bundles this alone).
 */

/** Where the server serves DICOMweb (its proxy to the PACS, or the embedded store); series URLs of jobs live here. */
export const DICOMWEB_ROOT = '/dicomweb';

/**
 * Where the server serves the run-time plugins, and their file names (the mode finds the extension beside itself;
 * the extension starts the in-browser inference worker from beside itself).
 */
export const PLUGINS_PATH = '/plugins/';
export const PLUGIN_FILES = { extension: 'vista3d-extension.mjs', mode: 'vista3d-mode.mjs', worker: 'vista3d-worker.mjs' } as const;

/** Where the server serves onnxruntime-web's wasm files (same origin: the viewer's content security is unchanged). */
export const ORT_WASM_PATH = `${PLUGINS_PATH}ort/`;

/** Where the server serves its model bundle's files (model.json and the graphs it names) for in-browser inference. */
export const MODEL_FILES_PATH = '/v1/vista3d/model/';

/** The prompt tool (Vista3dPromptTool.toolName; also its toolbar button id). */
export const PROMPT_TOOL_NAME = 'Vista3dPrompt';

/**
 * The extension's commands, by name: the panel, the prompt tool and the mode's hotkeys run these through OHIF's
 * commandsManager; the logic lives in extension/src/commands/*.ts.
 */
export const COMMANDS = {
  /** () → polls /v1/health/ready and /v1/vista3d/info into the store. */
  refreshServer: 'vista3dRefreshServer',
  /** ({ classes: (string|number)[] }) → class prompts on the active CT display set; replaces only those labels. */
  segmentClasses: 'vista3dSegmentClasses',
  /** () → cancels the running job. */
  cancel: 'vista3dCancel',
  /** ({ label: number }) → the label the next clicks target (≥ the model's zero_shot_from: a new structure). */
  setPointTarget: 'vista3dSetPointTarget',
  /** ({ world: [x,y,z], positive: boolean }) → adds a click and re-runs the point prompt. */
  addPoint: 'vista3dAddPoint',
  /** () → removes the last click and re-runs. */
  undoPoint: 'vista3dUndoPoint',
  /** () → removes all clicks (the label's result stays). */
  clearPoints: 'vista3dClearPoints',
  /** ({ world: [x,y,z] }) → selects the segment under that voxel. */
  selectSegmentAt: 'vista3dSelectSegmentAt',
  /** () → DICOM SEG of the results, stored to the PACS (STOW-RS). */
  saveSegmentation: 'vista3dSaveSegmentation',
  /** () → DICOM SEG of the results, downloaded. */
  downloadSegmentation: 'vista3dDownloadSegmentation',
  /** () → asks the server to load the active series ahead of the first prompt (once per series; quiet). */
  prepareSeries: 'vista3dPrepareSeries',
  /** ({ target: 'server' | 'browser' | 'auto' }) → where the next prompts run. */
  setRunTarget: 'vista3dSetRunTarget',
  /** ({ reload?: boolean }) → loads the model into this browser (downloaded once, checked, kept in Cache Storage). */
  loadBrowserModel: 'vista3dLoadBrowserModel',
} as const;
