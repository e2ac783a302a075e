#include "potential/nequip/training/detail/optimizer_impl.hpp"

#include <algorithm>
#include <cmath>

namespace nqmd::nequip::training {

void Adam::init(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) {
    exp_avg.push_back(torch::zeros_like(p).detach());
    exp_avg_sq.push_back(torch::zeros_like(p).detach());
    max_exp_avg_sq.push_back(torch::zeros_like(p).detach());
  }
}

void Adam::update(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  ++step;
  const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  for (std::size_t k = 0; k < params.size(); ++k) {
    torch::Tensor g = grads[k];
    if (weight_decay != 0.0) g = g.add(params[k], weight_decay);
    exp_avg[k].mul_(beta1).add_(g, 1.0 - beta1);
    exp_avg_sq[k].mul_(beta2).addcmul_(g, g, 1.0 - beta2);
    torch::Tensor denom;
    if (amsgrad) {
      torch::maximum_out(max_exp_avg_sq[k], max_exp_avg_sq[k], exp_avg_sq[k]);
      denom = (max_exp_avg_sq[k].sqrt() / bias2_sqrt).add_(eps);
    } else {
      denom = (exp_avg_sq[k].sqrt() / bias2_sqrt).add_(eps);
    }
    params[k].detach().addcdiv_(exp_avg[k], denom, -step_size);
  }
}

void clip_gradient_norm(std::vector<torch::Tensor>& grads, double max_norm) {
  double norm2 = 0.0;
  for (const auto& g : grads) norm2 += g.square().sum().item<double>();
  const double norm = std::sqrt(norm2);
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0)
    for (auto& g : grads) g = g * factor;
}

void MovingAverage::init(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) shadow.push_back(p.detach().clone());
}

void MovingAverage::update(const std::vector<torch::Tensor>& params) {
  if (!enabled()) return;
  torch::NoGradGuard no_grad;
  ++updates;
  double d = decay;
  if (use_num_updates) d = std::min(d, (1.0 + updates) / (10.0 + updates));
  for (std::size_t k = 0; k < params.size(); ++k) shadow[k].sub_((shadow[k] - params[k].detach()) * (1.0 - d));
}

AveragedWeights::AveragedWeights(const std::vector<torch::Tensor>& params, const MovingAverage& ema)
    : params_(params) {
  if (!ema.enabled()) return;
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < params.size(); ++k) {
    backup_.push_back(params[k].detach().clone());
    params[k].detach().copy_(ema.shadow[k]);
  }
}

AveragedWeights::~AveragedWeights() {
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < backup_.size(); ++k) params_[k].detach().copy_(backup_[k]);
}

double Plateau::step(double metric, double lr) {
  if (metric < best * (1.0 - 1e-4)) {
    best = metric;
    bad_epochs = 0;
  } else {
    ++bad_epochs;
  }
  if (bad_epochs > patience) {
    const double reduced = std::max(lr * factor, min_lr);
    if (lr - reduced > 1e-8) lr = reduced;
    bad_epochs = 0;
  }
  return lr;
}

}  // namespace nqmd::nequip::training
