"""Chollet's deep autoencoder: ReLU on every layer, the code included.

Design: F. Chollet, "Building Autoencoders in Keras" (Keras blog, 2016), section "Deep
autoencoder": Dense(128, relu) -> Dense(64, relu) -> Dense(32, relu) as the encoder, then
Dense(64, relu) -> Dense(128, relu) -> Dense(784, sigmoid); adadelta there, Adam here (the
assignment asks for Adam), binary cross-entropy. The code width 32 becomes bottleneck_dim and 784
becomes input_dim; the hidden widths 128 and 64 are kept for every input size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Autoencoder(nn.Module):
    def __init__(self, input_dim=784, bottleneck_dim=32):
        super().__init__()
        self.enc1 = nn.Linear(input_dim, 128)
        self.enc2 = nn.Linear(128, 64)
        self.enc3 = nn.Linear(64, bottleneck_dim)
        self.dec1 = nn.Linear(bottleneck_dim, 64)
        self.dec2 = nn.Linear(64, 128)
        self.dec3 = nn.Linear(128, input_dim)

    def encode(self, x):
        x = F.relu(self.enc1(x))
        x = F.relu(self.enc2(x))
        return F.relu(self.enc3(x))  # Chollet's code layer is ReLU too

    def decode(self, z):
        z = F.relu(self.dec1(z))
        z = F.relu(self.dec2(z))
        return torch.sigmoid(self.dec3(z))

    def forward(self, x):
        return self.decode(self.encode(x))


def train_autoencoder(model, train_x, val_x, *, epochs, batch_size, lr, device):
    model = model.to(device)
    x_train = torch.as_tensor(train_x, dtype=torch.float32, device=device)
    x_val = torch.as_tensor(val_x, dtype=torch.float32, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    log = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(x_train.shape[0], device=device)
        losses, sizes = [], []
        for start in range(0, x_train.shape[0], batch_size):
            xb = x_train[order[start:start + batch_size]]
            loss = F.binary_cross_entropy(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            sizes.append(len(xb))
        model.eval()
        with torch.no_grad():
            val_loss = F.binary_cross_entropy(model(x_val), x_val).item()
        train_loss = sum(loss_i * n for loss_i, n in zip(losses, sizes)) / sum(sizes)
        log.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss})
    return log
