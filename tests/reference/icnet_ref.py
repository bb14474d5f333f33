#!/usr/bin/env python3
"""ICNet (Jin et al., NeurIPS 2020) inference reference in PyTorch, written from SPEC.md sections 1-2.

Module and parameter names reproduce the official state_dict keys, so
`ICNet().load_state_dict(checkpoint_state_dict, strict=True)` works with the 190 official entries.

* `ICNet.forward(img, sism)` -> cosal_map_1 [N,1,224,224] (test path, eval mode).
* `ICNet.forward_instrumented(img, sism, argsort_override=None)` -> (cosal_map_1, dict of
  intermediates). `argsort_override` maps "Co6.fore", "Co4.back", ... to an [N,HW] integer
  permutation (tensor or array) that replaces torch.argsort in that branch.

The model works in whatever dtype it is cast to (`.double()` gives an fp64 reference).
"""

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CO_NAMES = ("Co6", "Co5", "Co4")
BRANCHES = ("fore", "back")


def resize(x, size):
    """The only resampling inside the network: bilinear, align_corners=True."""
    return F.interpolate(x, size, mode="bilinear", align_corners=True)


def conv(cin, cout, k):
    return nn.Conv2d(cin, cout, k, stride=1, padding=k // 2, bias=True)


class VGG16(nn.Module):
    """torchvision vgg16().features layout in `self.vgg` (indices 0..30)."""

    CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
    # [start, end) layer ranges of the five stages (post-ReLU, before the stage's pool)
    STAGES = {"conv1_2": (0, 4), "conv2_2": (4, 9), "conv3_3": (9, 16),
              "conv4_3": (16, 23), "conv5_3": (23, 30)}

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [conv(cin, v, 3), nn.ReLU(inplace=True)]
                cin = v
        self.vgg = nn.ModuleList(layers)

    def forward(self, x, stage):
        a, b = self.STAGES[stage]
        for i in range(a, b):
            x = self.vgg[i](x)
        return x


class Res(nn.Module):
    """Res(x) = ReLU(x + Conv3x3(ReLU(BN(Conv3x3(x)))))."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Sequential(conv(c, c, 3), nn.BatchNorm2d(c), nn.ReLU(inplace=True), conv(c, c, 3))

    def forward(self, x):
        return F.relu(x + self.conv(x))


class Cosal_Sub_Module(nn.Module):
    """NMAP/SIV, CFM (CSA), SCF, RSCF, then Conv1x1 HW->128 + Res(128)."""

    def __init__(self, H, W):
        super().__init__()
        self.H, self.W = H, W
        self.conv = nn.Sequential(conv(H * W, 128, 1), Res(128))

    def forward(self, feats, sisms, perm=None, rec=None):
        N, C, H, W = feats.shape
        HW = H * W
        S = resize(sisms, [H, W])                                       # [N,1,H,W]
        NF = F.normalize(feats, dim=1)                                  # [N,C,H,W]
        SIV = F.normalize((NF * S).mean(dim=3).mean(dim=2), dim=1)      # [N,C]
        # CFM
        corr = F.conv2d(NF, weight=SIV.view(N, C, 1, 1))                # [N,N,H,W]
        corr = F.normalize(corr.reshape(N, N, HW), dim=2)               # [N,N,HW]
        G = torch.bmm(corr, corr.transpose(1, 2))                       # [N,N,N]
        w = F.softmax(G.sum(dim=2), dim=1)                              # [N,N]
        csa_raw = torch.sum(corr * w.view(N, N, 1), dim=1)              # [N,HW]
        mn = csa_raw.min(dim=1, keepdim=True)[0]
        mx = csa_raw.max(dim=1, keepdim=True)[0]
        csa = (csa_raw - mn) / (mx - mn + 1e-12)                        # [N,HW]
        # SCF
        NFv = NF.reshape(N, C, HW)
        SCF = torch.bmm(NFv.transpose(1, 2), NFv).view(N, HW, H, W)     # [N,HW,H,W]
        # RSCF
        if perm is None:
            idx = torch.argsort(csa, dim=1, descending=True)
        else:
            idx = torch.as_tensor(perm).to(device=feats.device, dtype=torch.int64).reshape(N, HW)
        RSCF = torch.gather(SCF, 1, idx.view(N, HW, 1, 1).expand(N, HW, H, W))
        out = self.conv(RSCF * csa.view(N, 1, H, W))
        if rec is not None:
            rec.update(S=S, NF=NF, SIV=SIV, corr=corr, G=G, w=w, csa_raw=csa_raw, csa=csa,
                       argsort=idx, out=out)
        return out


class Cosal_Module(nn.Module):
    def __init__(self, H, W):
        super().__init__()
        self.cosal_feat = Cosal_Sub_Module(H, W)
        self.conv = nn.Sequential(conv(256, 128, 1), Res(128))

    def forward(self, feats, sisms, perms=(None, None), recs=(None, None)):
        fore = self.cosal_feat(feats, sisms, perms[0], recs[0])
        back = self.cosal_feat(feats, 1.0 - sisms, perms[1], recs[1])
        return self.conv(torch.cat([fore, back], dim=1))


class Prediction(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pred = nn.Sequential(conv(c, 1, 1), nn.Sigmoid())

    def forward(self, x):
        return self.pred(x)


class Decoder_Block(nn.Module):
    def __init__(self, in_ch):
        super().__init__()
        self.cmprs = conv(in_ch, 32, 1)
        self.merge_conv = nn.Sequential(conv(96, 96, 3), nn.BatchNorm2d(96), nn.ReLU(inplace=True),
                                        conv(96, 32, 3), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
        self.pred = Prediction(32)

    def forward(self, low, cosal_map, sisms, old_feats, need_pred=True):
        H, W = low.shape[2:]
        cm = resize(cosal_map, [H, W])
        s = resize(sisms, [H, W])
        of = resize(old_feats, [H, W])
        c = self.cmprs(low)
        new = self.merge_conv(torch.cat([c * cm, c * s, of], dim=1))
        return new, (self.pred(new) if need_pred else None)


class ICNet(nn.Module):
    def __init__(self):
        super().__init__()
        # registration order == official state_dict order
        self.vgg = VGG16()
        self.Co6 = Cosal_Module(7, 7)
        self.Co5 = Cosal_Module(14, 14)
        self.Co4 = Cosal_Module(28, 28)
        self.conv6_cmprs = nn.Sequential(
            nn.MaxPool2d(2, 2), conv(512, 128, 1),
            conv(128, 128, 3), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            conv(128, 128, 3), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            conv(128, 128, 3))
        self.conv5_cmprs = conv(512, 256, 1)
        self.conv4_cmprs = conv(512, 256, 1)
        self.merge_co_56 = Res(128)
        self.merge_co_45 = nn.Sequential(Res(128), conv(128, 32, 1))
        self.get_pred_4 = Prediction(32)
        self.refine_3 = Decoder_Block(256)
        self.refine_2 = Decoder_Block(128)
        self.refine_1 = Decoder_Block(64)
        self.eval()

    def _run(self, img, sism, overrides, rec):
        overrides = overrides or {}
        conv1_2 = self.vgg(img, "conv1_2")
        conv2_2 = self.vgg(conv1_2, "conv2_2")
        conv3_3 = self.vgg(conv2_2, "conv3_3")
        conv4_3 = self.vgg(conv3_3, "conv4_3")
        conv5_3 = self.vgg(conv4_3, "conv5_3")
        conv6_cmprs = self.conv6_cmprs(conv5_3)
        conv5_cmprs = self.conv5_cmprs(conv5_3)
        conv4_cmprs = self.conv4_cmprs(conv4_3)

        cos = {}
        for name, feats in (("Co6", conv6_cmprs), ("Co5", conv5_cmprs), ("Co4", conv4_cmprs)):
            perms = tuple(overrides.get(f"{name}.{b}") for b in BRANCHES)
            recs = tuple({} if rec is not None else None for _ in BRANCHES)
            cos[name] = getattr(self, name)(feats, sism, perms, recs)
            if rec is not None:
                for b, r in zip(BRANCHES, recs):
                    for k, v in r.items():
                        rec[f"{name}.{b}.{k}"] = v
        cosal_feat_6, cosal_feat_5, cosal_feat_4 = cos["Co6"], cos["Co5"], cos["Co4"]

        feat_56 = self.merge_co_56(cosal_feat_5 + resize(cosal_feat_6, [14, 14]))
        feat_45 = self.merge_co_45(cosal_feat_4 + resize(feat_56, [28, 28]))
        cosal_map_4 = self.get_pred_4(feat_45)

        feat_34, cosal_map_3 = self.refine_3(conv3_3, cosal_map_4, sism, feat_45, need_pred=rec is not None)
        feat_23, cosal_map_2 = self.refine_2(conv2_2, cosal_map_4, sism, feat_34, need_pred=rec is not None)
        _, cosal_map_1 = self.refine_1(conv1_2, cosal_map_4, sism, feat_23)

        if rec is not None:
            rec.update(conv1_2=conv1_2, conv2_2=conv2_2, conv3_3=conv3_3, conv4_3=conv4_3,
                       conv5_3=conv5_3, conv6_cmprs=conv6_cmprs, conv5_cmprs=conv5_cmprs,
                       conv4_cmprs=conv4_cmprs, cosal_feat_6=cosal_feat_6, cosal_feat_5=cosal_feat_5,
                       cosal_feat_4=cosal_feat_4, feat_56=feat_56, feat_45=feat_45,
                       cosal_map_4=cosal_map_4, feat_34=feat_34, cosal_map_3=cosal_map_3,
                       feat_23=feat_23, cosal_map_2=cosal_map_2, cosal_map_1=cosal_map_1)
        return cosal_map_1

    @torch.no_grad()
    def forward(self, img, sism, is_training=False):
        assert not is_training, "reference is inference-only"
        return self._run(img, sism, None, None)

    @torch.no_grad()
    def forward_instrumented(self, img, sism, argsort_override=None):
        """Returns (cosal_map_1 [N,1,224,224], OrderedDict of intermediates).

        Intermediate names: conv1_2 .. conv5_3, conv{6,5,4}_cmprs, cosal_feat_{6,5,4}, feat_56,
        feat_45, cosal_map_4, feat_34, cosal_map_3, feat_23, cosal_map_2, cosal_map_1 and, for
        X in Co6/Co5/Co4 and B in fore/back, "X.B.{S,NF,SIV,corr,G,w,csa_raw,csa,argsort,out}"
        (csa is the min-max normalised CSA [N,HW]; argsort the [N,HW] permutation used).
        """
        rec = OrderedDict()
        out = self._run(img, sism, argsort_override, rec)
        return out, rec


def preprocess_rgb_u8(rgb_u8, dtype=torch.float32):
    """uint8 [N,224,224,3] RGB numpy -> [N,3,224,224] ImageNet-normalised (float32 arithmetic,
    bit-equal to ToTensor + Normalize)."""
    import numpy as np
    x = rgb_u8.astype(np.float32) / np.float32(255)
    x = (x - np.asarray(IMAGENET_MEAN, dtype=np.float32)) / np.asarray(IMAGENET_STD, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(dtype)


def preprocess_sism_u8(sism_u8, dtype=torch.float32):
    """uint8 [N,224,224] -> [N,1,224,224] in [0,1] (float32 v/255)."""
    import numpy as np
    x = sism_u8.astype(np.float32) / np.float32(255)
    return torch.from_numpy(np.ascontiguousarray(x[:, None])).to(dtype)
