// Fused PET/CT in NiiVue (axial, coronal, sagittal) and a coronal MIP on a 2-D canvas.
// Volumes come from /api/analyses/{id}/volumes/{ct,suv,outline} as NIfTI (RAS mm); lesion
// centres in the API are DICOM LPS mm: (x, y, z) LPS = (-x, -y, z) RAS.

import { authHeaders } from "./api.js";

const { Niivue, SHOW_RENDER } = window.niivue;
const CT_WINDOW = [-160, 240]; // soft-tissue window, HU
// lesion outlines: opaque green from label value 1 up (NiiVue's "green" is half transparent)
const OUTLINE_COLORMAP = { R: [0, 0, 0], G: [0, 255, 255], B: [0, 0, 0], A: [0, 255, 255], I: [0, 1, 255] };
const outlineLayer = (url, visible) => ({
  url, name: "outline.nii.gz", colormap: "lesion-outline", cal_min: 0, cal_max: 255,
  opacity: visible ? 1 : 0, headers: authHeaders(), colorbarVisible: false,
});

export const lpsToRas = ([x, y, z]) => [-x, -y, z];

export class FusedViewer {
  constructor(canvas, mipCanvas, onLocation) {
    this.nv = new Niivue({ backColor: [0, 0, 0, 1], isColorbar: true, show3Dcrosshair: false, crosshairColor: [0.3, 0.6, 1, 0.7], crosshairWidth: 2.5, crosshairWidthUnit: "mm" });
    this.nv.addColormap("lesion-outline", OUTLINE_COLORMAP);
    this.canvas = canvas;
    this.mipCanvas = mipCanvas;
    this.onLocation = onLocation;
    this.window = [0, 10];
    this.ready = this.nv.attachToCanvas(canvas);
    this.nv.onLocationChange = (loc) => this.onLocation?.(loc);
    mipCanvas.addEventListener("click", (e) => this.jumpFromMip(e));
  }

  // Load CT (grey), SUV (hot, fused) and the lesion outlines (green) of an analysis.
  async load(analysisId, hasCt) {
    await this.ready;
    const base = `/api/analyses/${analysisId}/volumes`;
    const headers = authHeaders();
    const vols = [];
    if (hasCt) vols.push({ url: `${base}/ct`, name: "ct.nii.gz", colormap: "gray", cal_min: CT_WINDOW[0], cal_max: CT_WINDOW[1], headers, colorbarVisible: false });
    vols.push({ url: `${base}/suv`, name: "suv.nii.gz", colormap: hasCt ? "hot" : "gray", cal_min: this.window[0], cal_max: this.window[1], opacity: hasCt ? 0.6 : 1, headers });
    vols.push(outlineLayer(`${base}/outline?reviewed=true`, this.outlinesOn !== false));
    await this.nv.loadVolumes(vols);
    this.suvIndex = hasCt ? 1 : 0;
    this.nv.opts.multiplanarShowRender = SHOW_RENDER.NEVER;
    this.nv.setInterpolation(true); // nearest: voxels and one-voxel outlines stay sharp
    this.nv.setSliceType(this.nv.sliceTypeMultiplanar);
    this.drawMip();
  }

  // Replace the outline layer (after a review change).
  async reloadOutlines(analysisId) {
    const old = this.nv.volumes[this.nv.volumes.length - 1];
    this.nv.removeVolume(old);
    await this.nv.addVolumeFromUrl(outlineLayer(`/api/analyses/${analysisId}/volumes/outline?reviewed=true`, this.outlinesOn !== false));
    this.drawMip();
  }

  setOpacity(value) {
    if (this.suvIndex === 1) this.nv.setOpacity(1, value);
  }

  setWindow(min, max) {
    this.window = [min, max];
    const suv = this.nv.volumes[this.suvIndex];
    if (!suv) return;
    suv.cal_min = min;
    suv.cal_max = max;
    this.nv.updateGLVolume();
    this.drawMip();
  }

  showOutlines(on) {
    this.outlinesOn = on;
    this.nv.setOpacity(this.nv.volumes.length - 1, on ? 1 : 0);
    this.drawMip();
  }

  // Move the crosshair to a point in LPS mm.
  jumpToLps(lps) {
    this.nv.scene.crosshairPos = this.nv.mm2frac(lpsToRas(lps));
    this.nv.drawScene();
    this.nv.createOnLocationChange?.();
  }

  crosshairLps() {
    const mm = this.nv.frac2mm(this.nv.scene.crosshairPos);
    return [-mm[0], -mm[1], mm[2]];
  }

  // Coronal maximum-intensity projection of the SUV with the lesions' silhouettes outlined.
  drawMip() {
    const suv = this.nv.volumes[this.suvIndex];
    const edges = this.nv.volumes[this.nv.volumes.length - 1];
    if (!suv) return;
    const A = suv.hdr.affine;
    const dims = suv.hdr.dims.slice(1, 4);
    const stride = [1, dims[0], dims[0] * dims[1]];
    const axisOf = (row) => [0, 1, 2].reduce((b, c) => (Math.abs(A[row][c]) > Math.abs(A[row][b]) ? c : b), 0);
    const [ax, ay, az] = [axisOf(0), axisOf(1), axisOf(2)];
    const W = dims[ax], H = dims[az], D = dims[ay];
    const flipW = A[0][ax] < 0, flipH = A[2][az] > 0; // patient left to the right, head up
    const value = new Float32Array(W * H), depth = new Int32Array(W * H), mask = new Uint8Array(W * H);
    const img = suv.img, lab = edges?.img, slope = suv.hdr.scl_slope || 1, inter = suv.hdr.scl_inter || 0;
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        let best = -Infinity, bestD = 0, hit = 0;
        const base = w * stride[ax] + h * stride[az];
        for (let d = 0; d < D; d++) {
          const i = base + d * stride[ay];
          if (img[i] > best) { best = img[i]; bestD = d; }
          if (lab && lab[i] > 0) hit = 1;
        }
        const p = (flipH ? H - 1 - h : h) * W + (flipW ? W - 1 - w : w);
        value[p] = best * slope + inter; depth[p] = bestD; mask[p] = hit;
      }
    }
    this.mip = { W, H, ax, ay, az, flipW, flipH, depth, A };
    const c = this.mipCanvas;
    c.width = W; c.height = H;
    c.style.aspectRatio = `${W * Math.abs(A[0][ax])} / ${H * Math.abs(A[2][az])}`;
    const ctx = c.getContext("2d");
    const out = ctx.createImageData(W, H);
    const [lo, hi] = this.window;
    for (let p = 0; p < W * H; p++) {
      const t = Math.min(1, Math.max(0, (value[p] - lo) / (hi - lo || 1)));
      const g = Math.round(255 * (1 - t)); // inverted grey, as MIPs are read
      let rgb = [g, g, g];
      const x = p % W, y = (p - x) / W;
      const edge = this.outlinesOn !== false && mask[p] && (x === 0 || y === 0 || x === W - 1 || y === H - 1 || !mask[p - 1] || !mask[p + 1] || !mask[p - W] || !mask[p + W]);
      if (edge) rgb = [0, 200, 0];
      out.data.set([...rgb, 255], 4 * p);
    }
    ctx.putImageData(out, 0, 0);
  }

  // A click on the MIP: crosshair at the hottest voxel along that ray.
  jumpFromMip(event) {
    if (!this.mip) return;
    const { W, H, ax, ay, az, flipW, flipH, depth, A } = this.mip;
    const r = this.mipCanvas.getBoundingClientRect();
    const x = Math.floor(((event.clientX - r.left) / r.width) * W);
    const y = Math.floor(((event.clientY - r.top) / r.height) * H);
    const vox = [0, 0, 0];
    vox[ax] = flipW ? W - 1 - x : x;
    vox[az] = flipH ? H - 1 - y : y;
    vox[ay] = depth[y * W + x];
    const ras = [0, 1, 2].map((r2) => A[r2][0] * vox[0] + A[r2][1] * vox[1] + A[r2][2] * vox[2] + A[r2][3]);
    this.nv.scene.crosshairPos = this.nv.mm2frac(ras);
    this.nv.drawScene();
    this.nv.createOnLocationChange?.();
  }
}
