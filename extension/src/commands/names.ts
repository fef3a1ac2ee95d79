/**
 * The extension's commands, by name: the panel, the prompt tool and the hotkeys run these through OHIF's
 * commandsManager; the logic lives in commands/*.ts.
 */
export const COMMANDS = {
  /** () → polls /v1/health/ready and /v1/vista3d/info into the store. */
  refreshServer: 'vista3dRefreshServer',
  /** ({ classes: (string|number)[] }) → class prompts on the active CT display set; replaces only those labels. */
  segmentClasses: 'vista3dSegmentClasses',
  /** () → cancels the running job. */
  cancel: 'vista3dCancel',
  /** ({ label: number }) → the label the next clicks target (≥ 133: a new structure). */
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
} as const;
