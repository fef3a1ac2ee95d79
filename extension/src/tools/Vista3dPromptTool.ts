import { PROMPT_TOOL_NAME } from '@vista3d/models';
import { COMMANDS } from '../commands/names.ts';
import type { CornerstoneToolsLike, CsEnabledElement, CsViewport } from '../ohif.ts';
import type { PromptPoint, Vista3dState } from '../state/store.ts';

/** The tool's name in Cornerstone3D's registry, the tool groups and the toolbar (button id). */
export { PROMPT_TOOL_NAME };

/**
 * Mouse bindings when active: the primary button, alone and with Shift or Ctrl (negative points), so that no
 * other tool of the group reacts to those clicks. Values of Cornerstone3D's MouseBindings.Primary (1) and
 * KeyboardBindings.Shift (16) / Ctrl (17).
 */
export const PROMPT_TOOL_BINDINGS = [{ mouseButton: 1 }, { mouseButton: 1, modifierKey: 16 }, { mouseButton: 1, modifierKey: 17 }];

export interface PromptToolDeps {
  getState(): Vista3dState;
  runCommand(commandName: string, options: Record<string, unknown>): unknown;
  /** CSS colour of a label's segment where it is shown on `viewportId`, if any. */
  labelColor?(viewportId: string, label: number): string | undefined;
}

export const POSITIVE_FALLBACK_COLOR = 'rgb(0, 220, 0)';
export const NEGATIVE_COLOR = 'rgb(255, 59, 59)';
const MARKERS_UID = 'vista3d-prompt-points';

/** A click is a positive prompt unless Shift, Ctrl or Cmd is held. */
export function isPositiveClick(e: { shiftKey?: boolean; ctrlKey?: boolean; metaKey?: boolean } | undefined): boolean {
  return !(e?.shiftKey || e?.ctrlKey || e?.metaKey);
}

/**
 * The prompt points lying on a viewport's current plane: |(world − focalPoint) · viewPlaneNormal| ≤ tolerance.
 * All positions are patient LPS world coordinates in mm; `tolerance` is in mm (half a slice).
 */
export function pointsOnPlane(
  points: readonly PromptPoint[],
  camera: { focalPoint: readonly number[]; viewPlaneNormal: readonly number[] },
  tolerance: number,
): { point: PromptPoint; index: number }[] {
  const [fx, fy, fz] = camera.focalPoint;
  const [nx, ny, nz] = camera.viewPlaneNormal;
  const out: { point: PromptPoint; index: number }[] = [];
  points.forEach((point, index) => {
    const [x, y, z] = point.world;
    if (Math.abs((x - fx) * nx + (y - fy) * ny + (z - fz) * nz) <= tolerance) out.push({ point, index });
  });
  return out;
}

/** Half the largest voxel spacing of what the viewport shows (mm); 1 mm when unknown. */
function planeTolerance(viewport: CsViewport): number {
  const spacing = viewport.getImageData?.()?.spacing;
  return spacing?.length ? Math.max(...spacing) / 2 + 1e-3 : 1;
}

interface ClickEvent {
  detail: { viewportId?: string; currentPoints?: { world?: number[] }; event?: MouseEvent };
}

/**
 * Builds the point-prompt tool on the viewer's own Cornerstone3D (`window.cornerstoneTools`): the class can only
 * exist at run time, once the viewer has loaded it. A click (no drag) adds a prompt point through
 * COMMANDS.addPoint — positive, or negative with Shift/Ctrl/Cmd; with no target structure chosen it selects the
 * segment under it (COMMANDS.selectSegmentAt) instead. The commands do the rest. The tool draws the
 * current points (store.points) on every viewport of its tool groups, in the target label's colour (negative
 * points red), whether active or passive.
 */
export function createPromptToolClass(cst: CornerstoneToolsLike, deps: PromptToolDeps) {
  return class Vista3dPromptTool extends cst.BaseTool {
    static toolName = PROMPT_TOOL_NAME;

    constructor(toolProps: Record<string, unknown> = {}, defaultToolProps: Record<string, unknown> = { supportedInteractionTypes: ['Mouse'], configuration: { markerRadius: 6 } }) {
      super(toolProps, defaultToolProps);
    }

    mouseClickCallback = (evt: ClickEvent): void => {
      const { event, currentPoints } = evt.detail;
      if (event && event.button !== undefined && event.button !== 0) return;
      const world = currentPoints?.world;
      if (!world || world.length !== 3 || !world.every(Number.isFinite)) return;
      const point = [world[0], world[1], world[2]];
      // Without a target structure a click picks the segment under it (highlighted in the panel's list).
      if (deps.getState().pointTarget === null) deps.runCommand(COMMANDS.selectSegmentAt, { world: point });
      else deps.runCommand(COMMANDS.addPoint, { world: point, positive: isPositiveClick(event) });
    };

    renderAnnotation = (enabledElement: CsEnabledElement, svgDrawingHelper: unknown): boolean => {
      const { viewport } = enabledElement;
      const state = deps.getState();
      if (!state.points.length) return false;
      const onPlane = pointsOnPlane(state.points, viewport.getCamera(), planeTolerance(viewport));
      const radius = ((this as unknown as { configuration?: { markerRadius?: number } }).configuration?.markerRadius ?? 6);
      const positiveColor = (state.pointTarget !== null && deps.labelColor?.(viewport.id, state.pointTarget)) || POSITIVE_FALLBACK_COLOR;
      for (const { point, index } of onPlane) {
        const [x, y] = viewport.worldToCanvas(point.world);
        if (point.positive) {
          // Inside: a dot in the label's colour.
          cst.drawing.drawCircle(svgDrawingHelper, MARKERS_UID, `point-${index}`, [x, y], radius, { color: 'rgb(255, 255, 255)', fill: positiveColor, fillOpacity: 0.9, width: 1.5 });
        } else {
          // Outside: a ring with a cross, so that it reads as "not here" whatever the label's colour.
          const r = radius * 0.7;
          cst.drawing.drawCircle(svgDrawingHelper, MARKERS_UID, `point-${index}`, [x, y], radius, { color: NEGATIVE_COLOR, fill: 'rgba(0, 0, 0, 0.6)', width: 2 });
          cst.drawing.drawLine(svgDrawingHelper, MARKERS_UID, `point-${index}-a`, [x - r, y - r], [x + r, y + r], { color: NEGATIVE_COLOR, width: 2 });
          cst.drawing.drawLine(svgDrawingHelper, MARKERS_UID, `point-${index}-b`, [x - r, y + r], [x + r, y - r], { color: NEGATIVE_COLOR, width: 2 });
        }
      }
      return onPlane.length > 0;
    };
  };
}
