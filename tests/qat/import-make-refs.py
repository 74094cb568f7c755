#!/usr/bin/python3
# Reference models for the import parity test (import-parity.cc): each supported torchvision
# family (and pytorchcv's naming, built from torchvision modules or a small pytorchcv-named
# module tree) with random weights and random BN statistics, saved as a torch.save state dict,
# plus random inputs and the model's evaluation logits. Usage: import-make-refs.py OUTDIR.
# Writes OUTDIR/manifest.txt: one line "name from arch stem input_size" per model.
import os
import sys

import torch
import torch.nn as nn
import torchvision


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) + 0.5
            m.bias.data = (torch.rand(c, generator=gen) - 0.5) * 0.4
            m.running_mean = (torch.rand(c, generator=gen) - 0.5) * 0.4
            m.running_var = torch.rand(c, generator=gen) * 1.5 + 0.5
        if isinstance(m, nn.Linear):
            m.bias.data = (torch.rand(m.out_features, generator=gen) - 0.5) * 0.2


def torchvision_to_pytorchcv_resnet(sd, layers):
    """Renames a torchvision ResNet state dict to pytorchcv's ResNet naming."""
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if parts[0] == "conv1":
            nk = "features.init_block.conv.conv." + parts[1]
        elif parts[0] == "bn1":
            nk = "features.init_block.conv.bn." + ".".join(parts[1:])
        elif parts[0] == "fc":
            nk = "output." + parts[1]
        else:
            stage = int(parts[0][len("layer"):])
            unit = int(parts[1]) + 1
            p = "features.stage%d.unit%d." % (stage, unit)
            if parts[2] == "downsample":
                sub = "conv" if parts[3] == "0" else "bn"
                nk = p + "identity_conv.%s.%s" % (sub, ".".join(parts[4:]))
            elif parts[2].startswith("conv"):
                nk = p + "body.conv%s.conv.%s" % (parts[2][4:], ".".join(parts[3:]))
            else:
                nk = p + "body.conv%s.bn.%s" % (parts[2][2:], ".".join(parts[3:]))
        out[nk] = v
    return out


class ConvBlock(nn.Module):  # pytorchcv's ConvBlock: conv, bn, ReLU
    def __init__(self, cin, cout, k, stride, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class DwsUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw_conv = ConvBlock(cin, cin, 3, stride, groups=cin)
        self.pw_conv = ConvBlock(cin, cout, 1, 1)

    def forward(self, x):
        return self.pw_conv(self.dw_conv(x))


class PytorchcvMobileNet(nn.Module):
    """pytorchcv mobilenet_w1's module tree (names and numerics), global pooling."""

    def __init__(self, num_classes):
        super().__init__()
        channels = [[64], [128, 128], [256, 256], [512] * 6, [1024, 1024]]
        self.features = nn.Sequential()
        init = nn.Module()
        init.conv = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        init.bn = nn.BatchNorm2d(32)
        self.features.add_module("init_block", init)
        cin = 32
        for i, stage_channels in enumerate(channels):
            stage = nn.Sequential()
            for j, cout in enumerate(stage_channels):
                stage.add_module("unit%d" % (j + 1), DwsUnit(cin, cout, 2 if j == 0 and i else 1))
                cin = cout
            self.features.add_module("stage%d" % (i + 1), stage)
        self.output = nn.Linear(cin, num_classes)

    def forward(self, x):
        init = self.features.init_block
        x = torch.relu(init.bn(init.conv(x)))
        for name, stage in self.features.named_children():
            if name != "init_block":
                x = stage(x)
        return self.output(x.mean((2, 3)))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1995)
    gen = torch.Generator().manual_seed(12)
    tv = torchvision.models
    # name, from, arch, stem, input size, model builder, state-dict transform
    specs = [
        ("tv-resnet18", "torchvision", "resnet18", "imagenet", 64, lambda: tv.resnet18(num_classes=10), None),
        ("tv-resnet34", "torchvision", "resnet34", "imagenet", 64, lambda: tv.resnet34(num_classes=10), None),
        ("tv-resnet50", "torchvision", "resnet50", "imagenet", 64, lambda: tv.resnet50(num_classes=10), None),
        ("tv-resnet101", "torchvision", "resnet101", "imagenet", 32, lambda: tv.resnet101(num_classes=10), None),
        ("tv-resnet152", "torchvision", "resnet152", "imagenet", 32, lambda: tv.resnet152(num_classes=10), None),
        ("tv-mobilenet_v2", "torchvision", "mobilenet_v2", "imagenet", 64,
         lambda: tv.mobilenet_v2(num_classes=10), None),
        ("tv-resnet18-cifar", "torchvision", "resnet18", "cifar", 32, small_stem_resnet18, None),
        ("cv-resnet18", "pytorchcv", "resnet18", "imagenet", 64, lambda: tv.resnet18(num_classes=10),
         lambda sd: torchvision_to_pytorchcv_resnet(sd, [2, 2, 2, 2])),
        ("cv-resnet50b", "pytorchcv", "resnet50b", "imagenet", 64, lambda: tv.resnet50(num_classes=10),
         lambda sd: torchvision_to_pytorchcv_resnet(sd, [3, 4, 6, 3])),
        ("cv-resnet50", "pytorchcv", "resnet50", "imagenet", 64, resnet50_v1,
         lambda sd: torchvision_to_pytorchcv_resnet(sd, [3, 4, 6, 3])),
        ("cv-mobilenet_w1", "pytorchcv", "mobilenet_w1", "imagenet", 64,
         lambda: PytorchcvMobileNet(10), None),
    ]
    only = set(sys.argv[2:])
    with open(os.path.join(out, "manifest.txt"), "w") as manifest:
        for name, src, arch, stem, size, build, transform in specs:
            if only and name not in only:
                continue
            model = build()
            randomize_bn(model, gen)
            model.eval()
            x = torch.randn(3, 3, size, size, generator=gen)
            with torch.no_grad():
                y = model(x)
            sd = model.state_dict()
            if transform:
                sd = transform(sd)
            torch.save(sd, os.path.join(out, name + ".pth"))
            torch.save({"input": x, "logits": y}, os.path.join(out, name + "-ref.pt"))
            manifest.write("%s %s %s %s %d\n" % (name, src, arch, stem, size))


def small_stem_resnet18():
    """The common small-image adaptation: 3x3/1 conv1, no max pool."""
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m


def resnet50_v1():
    """ResNet-50 v1 (pytorchcv resnet50): the stride in each bottleneck's first 1x1 conv."""
    m = torchvision.models.resnet50(num_classes=10)
    for layer in (m.layer2, m.layer3, m.layer4):
        layer[0].conv1.stride = (2, 2)
        layer[0].conv2.stride = (1, 1)
    return m


if __name__ == "__main__":
    main()
