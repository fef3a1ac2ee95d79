"""The demo model: a small 3-D U-Net encoder and two light heads with VISTA3D's three-graph contract.

Tensors are MONAI channel-first [B, C, X, Y, Z] with X = R, Y = A, Z = S (model space RAS), Z fastest in memory.

- Encoder(image [1, 1, X, Y, Z] float32, intensities already windowed to [0, 1] by the pipeline)
  -> features [1, F, X, Y, Z].
- ClassHead(features, class_vector [B, 1] int64) -> logits [B, 1, X, Y, Z]: a learned embedding per label id
  dotted with a 1x1x1 projection of the features, plus a per-id bias.
- PointHead(features, point_coords [1, N, 3] float32 patch voxel coords (X, Y, Z), point_labels [1, N] int64
  (1/3 positive, 0/2 negative), class_vector [1, 1] int64) -> logits [1, 1, X, Y, Z]. Click maps (Gaussians
  around the clicks) and feature prototypes at the clicks are built inside the graph from a coordinate grid, so N
  is dynamic; ids >= ZERO_SHOT_FROM share one "new structure" embedding.
X, Y, Z must be multiples of 8.
"""
import torch
import torch.nn as nn
import torch.nn.functional as Fn

ZERO_SHOT_FROM = 133
# Intensity window of model.json: [-1000, 1000] HU -> [0, 1]. The encoder derives two narrower windows from it.
WINDOW = (-1000.0, 1000.0)


def cbr(cin, cout, stride=1, k=3):
    return nn.Sequential(nn.Conv3d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    def __init__(self, feat=16):
        super().__init__()
        self.stem = cbr(3, 8)
        self.d1 = nn.Sequential(cbr(8, 24, 2), cbr(24, 24))
        self.d2 = nn.Sequential(cbr(24, 48, 2), cbr(48, 48))
        self.d3 = nn.Sequential(cbr(48, 64, 2), cbr(64, 64), cbr(64, 64))
        self.u2 = nn.ConvTranspose3d(64, 48, 2, stride=2)
        self.c2 = cbr(48, 48)
        self.u1 = nn.ConvTranspose3d(48, 24, 2, stride=2)
        self.c1 = cbr(24, 24)
        self.u0 = nn.ConvTranspose3d(24, 16, 2, stride=2)
        self.head = nn.Conv3d(24, feat, 1)

    def forward(self, image):
        hu = image * (WINDOW[1] - WINDOW[0]) + WINDOW[0]
        soft = torch.clamp((hu + 150.0) / 350.0, 0.0, 1.0)
        narrow = torch.clamp(hu / 100.0, 0.0, 1.0)
        x = torch.cat([image, soft, narrow], 1) - 0.5
        s0 = self.stem(x)
        s1 = self.d1(s0)
        s2 = self.d2(s1)
        s3 = self.d3(s2)
        y = self.c2(torch.relu(self.u2(s3)) + s2)
        y = self.c1(torch.relu(self.u1(y)) + s1)
        y = torch.cat([torch.relu(self.u0(y)), s0], 1)
        return self.head(y)


class ClassHead(nn.Module):
    def __init__(self, feat=16, hidden=16):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv3d(feat, hidden, 1), nn.ReLU(inplace=True))
        self.embed = nn.Embedding(256, hidden)
        self.bias = nn.Embedding(256, 1)
        nn.init.normal_(self.embed.weight, std=0.3)
        nn.init.constant_(self.bias.weight, -2.0)

    def forward(self, features, class_vector):
        ids = torch.clamp(class_vector.reshape(-1), 0, 255)
        h = self.proj(features)  # [1, H, X, Y, Z]
        c, shape = h.shape[1], h.shape[2:]
        logits = torch.matmul(self.embed(ids), h.reshape(c, -1)) + self.bias(ids)  # [B, XYZ]
        return logits.reshape(-1, 1, shape[0], shape[1], shape[2])


class PointHead(nn.Module):
    def __init__(self, feat=16, g=8, hidden=8, sigma=2.0):
        super().__init__()
        self.g = nn.Conv3d(feat, g, 1)
        self.mix = nn.Conv3d(g + 4, hidden, 1)
        self.embed = nn.Embedding(256, hidden)
        nn.init.zeros_(self.embed.weight)
        # spatial context at half resolution (cheap), back to full resolution by a transposed conv
        self.conv = nn.Conv3d(hidden, 8, 3, padding=1)
        self.up = nn.ConvTranspose3d(8, 4, 2, stride=2)
        self.out = nn.Conv3d(hidden + 4, 1, 1)
        self.sigma = sigma
        # weights of the click maps added to the logits (positive, negative): fixed at 4 in runs 1-3, learned in run 4
        # (train.py --learn-click-scale): a fixed bump around a corrective click spilled over a small target's edge
        self.click_scale = nn.Parameter(torch.tensor([4.0, 4.0]))

    def forward(self, features, point_coords, point_labels, class_vector):
        gfeat = self.g(features)  # [1, G, X, Y, Z]
        G, X, Y, Z = gfeat.shape[1], gfeat.shape[2], gfeat.shape[3], gfeat.shape[4]
        p = point_coords[0]  # [N, 3]
        lab = point_labels[0]
        pos = ((lab == 1) | (lab == 3)).to(torch.float32)  # [N]
        neg = 1.0 - pos
        # click maps: Gaussians around the clicks, separable (1-D factors, then their outer product)
        a = -0.5 / (self.sigma * self.sigma)
        ex = torch.exp(a * (torch.arange(X, dtype=torch.float32).reshape(1, -1) - p[:, 0:1]) ** 2)  # [N, X]
        ey = torch.exp(a * (torch.arange(Y, dtype=torch.float32).reshape(1, -1) - p[:, 1:2]) ** 2)
        ez = torch.exp(a * (torch.arange(Z, dtype=torch.float32).reshape(1, -1) - p[:, 2:3]) ** 2)
        click = ex.reshape(-1, X, 1, 1) * ey.reshape(-1, 1, Y, 1) * ez.reshape(-1, 1, 1, Z)  # [N, X, Y, Z]
        pos_map = torch.max(click * pos.reshape(-1, 1, 1, 1), 0, keepdim=True)[0].unsqueeze(1)
        neg_map = torch.max(click * neg.reshape(-1, 1, 1, 1), 0, keepdim=True)[0].unsqueeze(1)
        # feature prototypes: the features at the clicked voxels (gathered), mean of the positive / negative ones
        q = torch.round(p)
        qx = torch.clamp(q[:, 0], 0, X - 1)
        qy = torch.clamp(q[:, 1], 0, Y - 1)
        qz = torch.clamp(q[:, 2], 0, Z - 1)
        idx = ((qx * Y + qy) * Z + qz).to(torch.int64)  # [N]
        gflat = gfeat.reshape(G, -1)  # [G, XYZ]
        protos = torch.index_select(gflat, 1, idx)  # [G, N]
        p_pos = torch.sum(protos * pos.reshape(1, -1), 1, keepdim=True) / torch.clamp(torch.sum(pos), min=1.0)  # [G, 1]
        p_neg = torch.sum(protos * neg.reshape(1, -1), 1, keepdim=True) / torch.clamp(torch.sum(neg), min=1.0)
        sim = torch.matmul(torch.cat([p_pos, p_neg], 1).t(), gflat).reshape(1, 2, X, Y, Z) / 8.0
        x = torch.cat([gfeat, sim, pos_map, neg_map], 1)
        ids = torch.clamp(class_vector.reshape(-1), 0, 255)
        ids = torch.where(ids >= ZERO_SHOT_FROM, torch.full_like(ids, ZERO_SHOT_FROM), ids)
        h = torch.relu(self.mix(x) + self.embed(ids).reshape(1, -1, 1, 1, 1))
        low = torch.relu(self.conv(Fn.avg_pool3d(h, 2)))
        h = torch.cat([h, torch.relu(self.up(low))], 1)
        return self.out(h) + self.click_scale[0] * pos_map - self.click_scale[1] * neg_map


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.class_head = ClassHead()
        self.point_head = PointHead()


class ShuffleUp3d(nn.Module):
    """ConvTranspose3d(kernel 2, stride 2) of batch 1 as a 1x1x1 convolution to 8x the channels followed by a
    depth-to-space rearrangement, one axis at a time (tensors of rank <= 5): the same function in operators that
    ONNX Runtime's WebGPU provider runs (its ConvTranspose is 1-D/2-D only). Used for export only."""

    def __init__(self, ct: nn.ConvTranspose3d):
        super().__init__()
        assert ct.kernel_size == (2, 2, 2) and ct.stride == (2, 2, 2) and ct.padding == (0, 0, 0)
        cin, cout = ct.in_channels, ct.out_channels
        self.cout = cout
        self.conv = nn.Conv3d(cin, cout * 8, 1)
        with torch.no_grad():
            # output channel ((co * 2 + a) * 2 + b) * 2 + d  <-  weight[ci, co, a, b, d]
            self.conv.weight.copy_(ct.weight.permute(1, 2, 3, 4, 0).reshape(cout * 8, cin, 1, 1, 1))
            self.conv.bias.copy_(ct.bias.repeat_interleave(8))

    def forward(self, x):
        X, Y, Z = x.shape[2], x.shape[3], x.shape[4]
        c = self.cout
        y = self.conv(x)
        y = y.reshape(c * 4, 2, X * Y, Z).permute(0, 2, 3, 1).reshape(c * 4, X, Y, 2 * Z)  # z -> 2z + d
        y = y.reshape(c * 2, 2, X, Y, 2 * Z).permute(0, 2, 3, 1, 4).reshape(c * 2, X, 2 * Y, 2 * Z)  # y -> 2y + b
        return y.reshape(c, 2, X, 4 * Y * Z).permute(0, 2, 1, 3).reshape(1, c, 2 * X, 2 * Y, 2 * Z)  # x -> 2x + a


def for_export(model: nn.Module) -> nn.Module:
    """`model` (in place) with every ConvTranspose3d replaced by its ShuffleUp3d equivalent."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.ConvTranspose3d):
            setattr(model, name, ShuffleUp3d(child))
        else:
            for_export(child)
    return model
