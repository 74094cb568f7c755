#!/usr/bin/python3
# Trains torchvision's ResNet-18, adapted to Fashion-MNIST (1-channel conv1, 10 classes), with
# plain PyTorch (Debian's python3-torch, /usr/bin/python3): the "your own float model" of the
# README's import walk-through (docs/import.md). Writes a torch.save state dict that
# `f8net import --from torchvision --arch resnet18` reads; prints the test top-1 as JSON last.
#   scripts/train-torch-fmnist.py --epochs 3 --out fmnist-resnet18.pth
import argparse
import gzip
import json
import os
import time

import torch
import torch.nn as nn
import torchvision

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set pixel mean and std


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).view(*dims)


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"))
    x = (images.float().div(255.0).unsqueeze(1) - MEAN) / STD
    return x, labels.long()


def make_model():
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def evaluate(model, x, y, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1995)
    ap.add_argument("--out", default="fmnist-resnet18.pth")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "test")
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=1e-4)
    steps = args.epochs * (len(xtr) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps,
                                                pct_start=0.15, anneal_strategy="cos")
    loss_fn = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(len(xtr) // args.batch_size):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            xb, yb = xtr[idx], ytr[idx]
            flip = torch.rand(len(xb)) < 0.5  # random horizontal flip
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
        top1 = evaluate(model, xte, yte, 500)
        print("epoch %d: loss %.4f, test top-1 %.2f %% (%.0f s)"
              % (epoch + 1, loss.item(), top1, time.time() - start), flush=True)
    tmp = args.out + ".tmp"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, args.out)
    print(json.dumps({"top1": top1, "epochs": args.epochs, "seconds": round(time.time() - start),
                      "weights": args.out}))


if __name__ == "__main__":
    main()
